"""Speech in: loading and validating audio, the speech feature extractors, the feature cache."""
