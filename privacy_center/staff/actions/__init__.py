"""The staff's actions on a request, one module for each thing the law needs next: the
requester's identity, a clarification, an extension, a refusal, the completion (with the
recipients told), a deceased person's data; and who works on it. ``rules`` holds what they
share. Plain functions with explicit arguments; they never look at the HTTP request or the
session."""
