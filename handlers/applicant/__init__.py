"""The applicant's side of the conversation: menu and information pages, registration (consent,
self-check, profile, documents, summary), status, the SOBAT guide, their own data, linking chats
and reminder preferences."""
