"""Constants shared by the in-process tests (importable: tests/ is on sys.path)."""

ADMIN_KEY = "sk-plinth-test-admin-0123456789"
CHAT_MODEL = "smollm2-135m-instruct"
EMBED_MODEL = "all-minilm-l6-v2"
