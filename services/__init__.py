"""The rules of the recruitment above storage: the registration window, documents, results and
publishing, broadcasts and audiences, reminders, the schedule of automatic work."""
