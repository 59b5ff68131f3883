"""Biomedical named-entity recognition: corpora, training and evaluation.

The modules here import spaCy lazily where they can; :mod:`litmine.ner.pubtator`
reads PubTator corpora without it.
"""
