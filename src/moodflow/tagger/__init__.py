"""The mood and genre tagger: network, training, model bundles.

Later stages only need `moodflow.tagger.bundle.load_bundle`.
"""
