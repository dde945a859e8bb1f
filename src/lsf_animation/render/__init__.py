"""Pictures out: the CPU rasterizer, mp4 writing with audio, motion heatmaps."""
