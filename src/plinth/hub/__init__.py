"""Model hubs: find a GGUF on the Hugging Face Hub or ModelScope and download it,
resumable and checked against the hub's own sha256 (``plinth models pull``)."""
