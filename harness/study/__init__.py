"""The CPU-scale study (``harness study``): base model, SFT vs RFT, think vs nothink, length_norm ablation."""
