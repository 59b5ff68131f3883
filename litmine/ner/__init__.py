"""Biomedical named-entity recognition: corpora, training and evaluation.

The modules here import spaCy lazily where they can; :mod:`litmine.ner.pubtator`
reads PubTator corpora without it.

Layer: beside :mod:`litmine.vectors` and :mod:`litmine.entities`; may import
``store``, ``passages``, ``parse`` and the base modules (and ``vectors`` for the
embedding model a transformer tagger starts from). :mod:`litmine.ner.cli` is a
shell: it belongs to the ``cli`` layer.
"""
