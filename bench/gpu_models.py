"""The architectures bench/gpu.py times: published configs, their sources, tiny CPU versions, and the builders.

Every full-size config below is copied from huggingface/diffusers (snapshot at commit DIFFUSERS_SNAPSHOT); each
entry's "source" names the file, the commit that last changed it, and where in it the values are. Models are built
with `Model.from_config(config)` and random weights: compute does not depend on weight values, so seconds and
memory are honest and image quality is not measured. `tiny` scales the same configs down for a CPU smoke run.
"""

from __future__ import annotations

import math
from typing import Any

DIFFUSERS_SNAPSHOT = "58eb52c0803ea9af3abec60841c2a093bdf1f951"  # github:huggingface/diffusers, 2026-08-23
FLUX2_SCRIPT = {"file": "scripts/convert_flux2_to_diffusers.py", "commit": "61f175660a8ac54f1470a74a810e6c38fb4795d5"}
WAN_SCRIPT = {"file": "scripts/convert_wan_to_diffusers.py", "commit": "2843b3d37ad7c83b44cdcd098b9c064e1569457d"}
FLUX1_SCRIPT = {"file": "scripts/convert_flux_to_diffusers.py", "commit": "86294d3c7ffa5e97b9483d82c14021d06b701a12"}
ZIMAGE_FILE = {"file": "src/diffusers/models/transformers/transformer_z_image.py",
               "commit": "3bc3e525fc588dca92dd49f725fa6e434748fcd6"}

# FLUX.2 [klein] 4B: get_flux2_transformer_config("klein-4b"); its VAE is `AutoencoderKLFlux2()` (main(), defaults).
KLEIN_4B = {"patch_size": 1, "in_channels": 128, "num_layers": 5, "num_single_layers": 20, "attention_head_dim": 128,
            "num_attention_heads": 24, "joint_attention_dim": 7680, "timestep_guidance_channels": 256,
            "mlp_ratio": 3.0, "axes_dims_rope": [32, 32, 32, 32], "rope_theta": 2000, "eps": 1e-6,
            "guidance_embeds": False}
FLUX2_VAE = {"in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
             "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [128, 256, 512, 512],
             "layers_per_block": 2, "latent_channels": 32, "norm_num_groups": 32, "use_quant_conv": True,
             "use_post_quant_conv": True, "mid_block_add_attention": True, "patch_size": [2, 2]}
# Z-Image-Turbo 6B: the class defaults of ZImageTransformer2DModel (equal to the published transformer/config.json:
# dim 3840, 30 layers + 2 refiners, 30 heads, Qwen3-4B captions of 2560). Its VAE is the FLUX.1 AutoencoderKL:
# convert_flux_to_diffusers.py loads stabilityai/stable-diffusion-3-medium-diffusers' VAE config (values below)
# and sets scaling_factor=0.3611, shift_factor=0.1159.
ZIMAGE_TURBO = {"all_patch_size": [2], "all_f_patch_size": [1], "in_channels": 16, "dim": 3840, "n_layers": 30,
                "n_refiner_layers": 2, "n_heads": 30, "n_kv_heads": 30, "norm_eps": 1e-5, "qk_norm": True,
                "cap_feat_dim": 2560, "rope_theta": 256.0, "t_scale": 1000.0, "axes_dims": [32, 48, 48],
                "axes_lens": [1024, 512, 512]}
FLUX1_VAE = {"in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
             "up_block_types": ["UpDecoderBlock2D"] * 4, "block_out_channels": [128, 256, 512, 512],
             "layers_per_block": 2, "latent_channels": 16, "norm_num_groups": 32, "use_quant_conv": False,
             "use_post_quant_conv": False, "scaling_factor": 0.3611, "shift_factor": 0.1159}
# Wan2.2-TI2V-5B: get_transformer_config("Wan2.2-TI2V-5B") and vae22_diffusers_config (+ AutoencoderKLWan defaults
# dim_mult [1, 2, 4, 4], 2 res blocks). latents_mean/std (48 values each) are set to 0/1 here: normalisation
# constants, no compute. The scheduler is the script's UniPC with flow_shift 5.0 for TI2V.
WAN22_TI2V_5B = {"patch_size": [1, 2, 2], "num_attention_heads": 24, "attention_head_dim": 128, "in_channels": 48,
                 "out_channels": 48, "text_dim": 4096, "freq_dim": 256, "ffn_dim": 14336, "num_layers": 30,
                 "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "added_kv_proj_dim": None}
WAN22_VAE = {"base_dim": 160, "decoder_base_dim": 256, "z_dim": 48, "is_residual": True, "in_channels": 12,
             "out_channels": 12, "patch_size": 2, "scale_factor_temporal": 4, "scale_factor_spatial": 16,
             "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "temperal_downsample": [False, True, True],
             "latents_mean": [0.0] * 48, "latents_std": [1.0] * 48}

# The same configs scaled down for `--tiny` (1-2 layers, small widths): the code path is the same, the figures mean
# nothing.
TINY = {
    "klein": ({"num_layers": 1, "num_single_layers": 1, "attention_head_dim": 16, "num_attention_heads": 2,
               "joint_attention_dim": 32, "in_channels": 16, "axes_dims_rope": [4, 4, 4, 4]},
              {"block_out_channels": [8, 8, 8, 8], "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 4}),
    "zimage": ({"dim": 32, "n_layers": 2, "n_refiner_layers": 1, "n_heads": 2, "n_kv_heads": 2, "cap_feat_dim": 16,
                "axes_dims": [8, 4, 4], "axes_lens": [256, 32, 32]},
               {"block_out_channels": [8, 8, 8, 8], "layers_per_block": 1, "norm_num_groups": 4}),
    "wan": ({"num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "ffn_dim": 32,
             "rope_max_seq_len": 32},
            {"base_dim": 8, "decoder_base_dim": 8, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1}),
}

MODELS: dict[str, dict[str, Any]] = {
    "klein": {"name": "FLUX.2 [klein] 4B", "role": "keyframe", "pipeline": "Flux2KleinPipeline",
              "transformer": ("Flux2Transformer2DModel", KLEIN_4B), "vae": ("AutoencoderKLFlux2", FLUX2_VAE),
              "embeds": (512, 7680), "steps": 4, "guidance": 1.0,
              "source": {"transformer": {**FLUX2_SCRIPT, "at": "get_flux2_transformer_config('klein-4b')"},
                         "vae": {**FLUX2_SCRIPT, "at": "main(): AutoencoderKLFlux2() defaults"},
                         "text": "Qwen3-4B layers (9, 18, 27) stacked: 3 x 2560 = 7680, padded to 512 tokens"}},
    "zimage": {"name": "Z-Image-Turbo 6B", "role": "keyframe", "pipeline": "ZImagePipeline",
               "transformer": ("ZImageTransformer2DModel", ZIMAGE_TURBO), "vae": ("AutoencoderKL", FLUX1_VAE),
               "embeds": (128, 2560), "steps": 8, "guidance": 0.0,
               "source": {"transformer": {**ZIMAGE_FILE, "at": "ZImageTransformer2DModel.__init__ defaults"},
                          "vae": {**FLUX1_SCRIPT, "at": "args.vae: SD3-medium VAE config + FLUX scaling/shift"},
                          "text": "Qwen3-4B hidden states (2560), unpadded: 128 tokens assumed for a shot prompt"}},
    "wan": {"name": "Wan2.2-TI2V-5B", "role": "clip", "pipeline": "WanImageToVideoPipeline",
            "transformer": ("WanTransformer3DModel", WAN22_TI2V_5B), "vae": ("AutoencoderKLWan", WAN22_VAE),
            "embeds": (512, 4096), "guidance": 1.0,
            "source": {"transformer": {**WAN_SCRIPT, "at": "get_transformer_config('Wan2.2-TI2V-5B')"},
                       "vae": {**WAN_SCRIPT, "at": "vae22_diffusers_config"},
                       "text": "UMT5-XXL last hidden state (4096), padded to 512 tokens"}},
}


def tiny_embeds(name: str) -> tuple[int, int]:
    width = {"klein": 32, "zimage": 16, "wan": 32}[name]
    return 16, width


def scheduler(name: str) -> Any:
    import diffusers

    if name == "wan":  # convert_wan_to_diffusers.py, TI2V
        return diffusers.UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                 num_train_timesteps=1000, flow_shift=5.0)
    if name == "zimage":
        return diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    # FLUX.1-dev's scheduler, which convert_flux2_to_diffusers.py loads for FLUX.2
    return diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True,
                                                     base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
                                                     max_image_seq_len=4096)


def _build(cls_name: str, config: dict, device: str, dtype: Any) -> Any:
    import diffusers
    import torch

    with torch.device(device):  # initialise on the device: a 5B model's random init on 2 CPU cores takes minutes
        model = getattr(diffusers, cls_name).from_config(config)
    verbosity = diffusers.utils.logging.get_verbosity()
    diffusers.utils.logging.set_verbosity_error()  # the warning about fp32 modules: handled below
    model = model.to(dtype).eval().requires_grad_(False)
    diffusers.utils.logging.set_verbosity(verbosity)
    keep = model._keep_in_fp32_modules or []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not torch.isfinite(p).all():  # some parameters start as torch.empty (pad tokens): make them finite
                p.normal_(0.0, 0.02)
            if any(k in name.split(".") for k in keep):  # as from_pretrained(torch_dtype=...) keeps them
                p.data = p.data.float()
    return model


def build_pipeline(name: str, *, tiny: bool, device: str, dtype: Any) -> tuple[Any, dict]:
    """A pipeline of the real class with random-weight denoiser + VAE and no text encoder (prompt embeddings are
    passed in), and what was built."""
    import diffusers

    spec = MODELS[name]
    (t_cls, t_cfg), (v_cls, v_cfg) = spec["transformer"], spec["vae"]
    if tiny:
        t_cfg, v_cfg = {**t_cfg, **TINY[name][0]}, {**v_cfg, **TINY[name][1]}
    transformer, vae = _build(t_cls, t_cfg, device, dtype), _build(v_cls, v_cfg, device, dtype)
    parts: dict[str, Any] = {"transformer": transformer, "vae": vae, "scheduler": scheduler(name)}
    if name == "wan":
        parts.update(tokenizer=None, text_encoder=None, image_encoder=None, image_processor=None,
                     transformer_2=None, boundary_ratio=None, expand_timesteps=True)
    else:
        parts.update(tokenizer=None, text_encoder=None)
        if name == "klein":
            parts["is_distilled"] = True
    pipe = getattr(diffusers, spec["pipeline"])(**parts)
    pipe.set_progress_bar_config(disable=True)

    info = {"model": spec["name"], "pipeline": spec["pipeline"], "transformer": t_cls, "vae": v_cls,
            "params": {"transformer": sum(p.numel() for p in transformer.parameters()),
                       "vae": sum(p.numel() for p in vae.parameters())},
            "weights_gb": round(sum(p.numel() * p.element_size() for m in (transformer, vae)
                                    for p in m.parameters()) / 2**30, 3),
            "config_source": spec["source"], "config": {"transformer": t_cfg, "vae": _short(v_cfg)}}
    return pipe, info


def _short(cfg: dict) -> dict:
    return {k: (f"[{len(v)} values]" if isinstance(v, list) and len(v) > 8 else v) for k, v in cfg.items()}


def round_to(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


def frames_for(seconds: float, fps: int, step: int) -> int:
    """The model's frame rule (step*k + 1) at or above seconds*fps."""
    return math.ceil(seconds * fps / step) * step + 1
