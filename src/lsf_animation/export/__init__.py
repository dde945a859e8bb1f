"""Files out: motion .npz (and, later, vertex, OBJ and glTF exports)."""
