"""Pre-training objectives, one module each, on a shared batch format.

- `mlm`: masked LM on single sentences (mBERT, https://arxiv.org/abs/1810.04805)
- `tlm`: masked LM on concatenated translation pairs (XLM, https://arxiv.org/abs/1901.07291)
- `weam`: masked aligned words predict their counterparts (our reading of WEAM,
  Yang et al. 2021, https://aclanthology.org/2021.mrqa-1.10/; see READING.md)
- `codeswitch`: aligned words exchanged in the input, originals predicted (ablation)
- `contrastive`: in-batch-negative sentence retrieval losses (InfoNCE; LaBSE's
  additive margin softmax, https://arxiv.org/abs/2007.01852), alone or with WEAM

Every objective has `make_batch(examples, generator)` and `loss(model, batch)`;
`OBJECTIVE_FOR_NAME` in `repro.weam.objectives.registry` builds one by name.
"""
