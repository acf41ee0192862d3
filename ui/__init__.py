"""ui: the HTTP API and the chat UI, thin faces over `rag.Assistant`."""
