"""Time-driven work: deadline reminders, announcements and the delivery queue's workers.

Nothing lives here yet: the jobs arrive with the reminders and broadcast issues, and will read the
time from the same `core.clock.Clock` the conversation uses.
"""
