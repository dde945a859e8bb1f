"""The trained artifact: typed metadata (`metadata`), reading and writing files (`files`),
building the model from a checkpoint (`build`, `backbone`) and the speech features it was trained
on (`features`). Training writes checkpoints; inference and evaluation only read them, so nothing
here imports Lightning or the training code."""

from lsf_animation.checkpoint.files import (
    Checkpoint,
    load_checkpoint,
    read_checkpoint_dict,
    save_checkpoint,
    write_model_file,
)
from lsf_animation.checkpoint.metadata import (
    BackboneSpec,
    CheckpointMeta,
    DataInfo,
    FeatureRecord,
    FeatureRecords,
    PriorInfo,
)

__all__ = [
    "BackboneSpec",
    "Checkpoint",
    "CheckpointMeta",
    "DataInfo",
    "FeatureRecord",
    "FeatureRecords",
    "PriorInfo",
    "load_checkpoint",
    "read_checkpoint_dict",
    "save_checkpoint",
    "write_model_file",
]
