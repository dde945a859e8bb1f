"""File infrastructure shared by every folder, with no knowledge of faces, speech or models:
atomic writes (`atomic`), restricted unpickling (`safe_pickle`) and typed dataclasses from plain
dicts (`typed_dict`)."""
