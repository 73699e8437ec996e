"""``stylegram video``: temporally consistent style transfer for clips (Ruder, Dosovitskiy & Brox 2016).

``io`` reads clips and frame folders (PyAV, Pillow), ``encode`` writes them; ``flow`` computes optical
flow and its reliability; ``temporal`` builds the warm start and the temporal term; ``shots`` finds hard
cuts; ``frames`` names, keys and checks the work folder's frames; ``run`` stylizes the frames in order,
one shot after another or shots in parallel on Ray (``ray_shots``). PyAV and OpenCV are imported lazily.
"""
