"""Conformance: facts about Snowflake (observations, each with its source) replayed against the
emulator, and recorded from a real account by ``milvus-spcs record``.

- ``observation``: the file format (what was asked, what Snowflake answered, where that came from);
- ``scrub``: names, timestamps, ids and secrets out of an answer, so that answers compare;
- ``capture``: one statement's answer through the real connector;
- ``compare``: an answer against an expectation, as a list of differences;
- ``catalogue``: runs observations on a target inside a labelled scratch database, torn down like a run;
- ``record``: writes what a target answered as an observation file that replays as it is.
"""
