"""The provider catalog: presets for hosted APIs and self-hosted servers."""
