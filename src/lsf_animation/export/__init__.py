"""Files out: motion .npz, vertices .npy and OBJ sequences."""
