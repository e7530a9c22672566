"""WEAM repro library: data and alignment (`repro.weam.data`, `repro.weam.align`), models and training.

Start with `repro.weam.data.synthetic.generate_world` for languages with gold alignments and
`repro.weam.align.align` for the statistical alignment prior.
"""
