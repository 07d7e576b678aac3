"""Staff's side of the conversation: the staff commands, who may use them, and the staff flows
(broadcasts, selection results, answers to SOBAT reports, closing and reopening registration)."""
