"""Config overrides shared by the training tests: the demo preset at tiny sizes, so that a
stage trains in seconds on a CPU. Import as `from fixtures_train import TINY_MODEL`."""

TINY_MODEL = [
    "model.vqvae.hidden_dim=32",
    "model.vqvae.code_dim=16",
    "model.vqvae.num_layers=1",
    "model.vqvae.ffn_dim=32",
    "model.sie.d_model=32",
    "model.sie.ffn_dim=32",
    "model.sie.fusion_mlp_dim=32",
]
