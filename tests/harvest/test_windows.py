"""Token windows: exact layout, every text token once, provenance, tokenization."""

import numpy as np
import pytest

from aekit.datasets import TextCorpus, TokenDocuments
from aekit.harvest import TokenWindows, WindowFormat, cut_windows, tokenize

from _tiny import token_documents


def _docs(*arrays):
    return TokenDocuments("t", tuple(np.asarray(a, np.int64) for a in arrays), tuple(f"d{i}" for i in range(len(arrays))),
                          "all", "")


def test_layout_by_hand():
    # stream: 10 11 12 EOS 20 21 EOS 30 31 32 33 EOS ; 3 text tokens per window after BOS
    w = cut_windows(_docs([10, 11, 12], [20, 21], [30, 31, 32, 33]), 4, WindowFormat(prefix=(1,), separator=(2,)))
    np.testing.assert_array_equal(w.tokens, [[1, 10, 11, 12], [1, 2, 20, 21], [1, 2, 30, 31], [1, 32, 33, 2]])
    np.testing.assert_array_equal(w.document, [[-1, 0, 0, 0], [-1, -1, 1, 1], [-1, -1, 2, 2], [-1, 2, 2, -1]])
    np.testing.assert_array_equal(w.position, [[-1, 0, 1, 2], [-1, -1, 0, 1], [-1, -1, 0, 1], [-1, 2, 3, -1]])
    assert w.tokens.dtype == np.int64 and w.document.dtype == np.int32 and w.context == 4 and len(w) == 4


def test_encoder_layout_with_suffix_and_tail_dropped():
    w = cut_windows(_docs([5, 6, 7, 8, 9]), 4, WindowFormat(prefix=(101,), suffix=(102,), separator=(102,)))
    # stream 5 6 7 8 9 SEP -> two text tokens per window; all 6 fit in 3 windows
    np.testing.assert_array_equal(w.tokens, [[101, 5, 6, 102], [101, 7, 8, 102], [101, 9, 102, 102]])
    w = cut_windows(_docs([5, 6, 7, 8, 9]), 5, WindowFormat(prefix=(101,), suffix=(102,)))
    np.testing.assert_array_equal(w.tokens, [[101, 5, 6, 7, 102]])  # the tail (8, 9) does not fill a window


def test_every_text_token_appears_once_with_its_origin():
    docs = token_documents()
    w = cut_windows(docs, 16, WindowFormat(prefix=(1,), separator=(2,)))
    text = w.document >= 0
    stream_tokens = sum(t.shape[0] for t in docs.tokens) + len(docs)  # each document plus its separator
    assert len(w) == stream_tokens // 15
    # every (document, position) pair once, in stream order, and its id is that document's token
    pairs = np.stack([w.document[text], w.position[text]], axis=1)
    assert len({tuple(p) for p in pairs}) == pairs.shape[0]
    np.testing.assert_array_equal(w.tokens[text], [docs.tokens[d][p] for d, p in pairs])
    stream_doc = np.concatenate([np.append(np.full(t.shape[0], i), -1) for i, t in enumerate(docs.tokens)])
    assert pairs.shape[0] == np.sum(stream_doc[: len(w) * 15] >= 0)  # the windows cover the stream's head exactly
    assert np.all(w.tokens[:, 0] == 1) and np.all(w.position[:, 0] == -1)


def test_max_windows_and_errors():
    docs = token_documents()
    assert len(cut_windows(docs, 16, max_windows=3)) == 3
    with pytest.raises(ValueError, match="no room for text"):
        cut_windows(docs, 2, WindowFormat(prefix=(1,), suffix=(2,)))
    with pytest.raises(ValueError, match="do not fill one window"):
        cut_windows(_docs([1, 2]), 16)
    with pytest.raises(ValueError, match="shape"):
        TokenWindows(np.zeros((2, 3), np.int64), np.zeros((2, 2), np.int32), np.zeros((2, 3), np.int32), (), "", WindowFormat())


def test_fingerprint_tracks_ids_and_origins():
    w = cut_windows(token_documents(), 16)
    assert w.fingerprint() == cut_windows(token_documents(), 16).fingerprint()
    assert w.fingerprint() != cut_windows(token_documents(seed=1), 16).fingerprint()
    assert w.take(2).fingerprint() != w.fingerprint() and len(w.take(2)) == 2


def _word_tokenizer(words):
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", bos_token="<s>", eos_token="</s>")


def test_tokenize_a_corpus_with_a_tokenizer():
    tok = _word_tokenizer(["to", "be", "or", "not", "that"])
    corpus = TextCorpus("c", ("to be or not to be", "that be"), ("a", "b"), "all", "two lines")
    docs = tokenize(corpus, tok)
    np.testing.assert_array_equal(docs.tokens[0], [3, 4, 5, 6, 3, 4])
    np.testing.assert_array_equal(docs.tokens[1], [7, 4])
    assert docs.titles == ("a", "b") and docs.tokens[0].dtype == np.int64 and "tokenized by" in docs.description


def test_stride_layout_by_hand():
    # stream: 10 11 12 EOS 20 21 EOS (7 tokens); 3 text tokens per window after BOS, stride 2
    w = cut_windows(_docs([10, 11, 12], [20, 21]), 4, WindowFormat(prefix=(1,), separator=(2,)), stride=2)
    np.testing.assert_array_equal(w.tokens, [[1, 10, 11, 12], [1, 12, 2, 20], [1, 20, 21, 2]])
    np.testing.assert_array_equal(w.document, [[-1, 0, 0, 0], [-1, 0, -1, 1], [-1, 1, 1, -1]])
    np.testing.assert_array_equal(w.position, [[-1, 0, 1, 2], [-1, 2, -1, 0], [-1, 0, 1, -1]])
    assert w.stride == 2
    assert cut_windows(_docs([10, 11, 12], [20, 21]), 4, WindowFormat(prefix=(1,), separator=(2,))).stride == 3


@pytest.mark.parametrize("stride", [1, 4, 7, 15])
def test_a_stride_covers_every_position_of_the_streams_head(stride):
    docs = token_documents()
    fmt = WindowFormat(prefix=(1,), separator=(2,))
    w = cut_windows(docs, 16, fmt, stride=stride)
    body = 15
    stream = sum(t.shape[0] for t in docs.tokens) + len(docs)
    n = (stream - body) // stride + 1
    assert len(w) == n and w.stride == stride
    # window i holds stream tokens i*stride .. i*stride + body - 1: rebuild the stream's head from the windows
    covered = (n - 1) * stride + body
    stream_ids = np.concatenate([np.append(t, 2) for t in docs.tokens])
    starts = np.arange(n) * stride
    np.testing.assert_array_equal(w.tokens[:, 1:], stream_ids[starts[:, None] + np.arange(body)])
    hits = np.zeros(stream, int)
    for s in starts:
        hits[s : s + body] += 1
    assert hits[:covered].min() >= 1 and hits[covered:].sum() == 0 and stream - covered < stride
    # every text token of the covered head appears, in as many windows as cover it, each time with its origin
    text = w.document >= 0
    pairs, counts = np.unique(np.stack([w.document[text], w.position[text]], axis=1), axis=0, return_counts=True)
    stream_doc = np.concatenate([np.append(np.full(t.shape[0], i), -1) for i, t in enumerate(docs.tokens)])
    stream_pos = np.concatenate([np.append(np.arange(t.shape[0]), -1) for t in docs.tokens])
    keep = stream_doc[:covered] >= 0
    expected = {(d, p): h for d, p, h in zip(stream_doc[:covered][keep], stream_pos[:covered][keep], hits[:covered][keep])}
    assert {tuple(p): c for p, c in zip(pairs.tolist(), counts.tolist())} == expected
    if stride == body:  # the default: no overlap, the same windows
        assert w.fingerprint() == cut_windows(docs, 16, fmt).fingerprint()


def test_bad_strides():
    docs = token_documents()
    for stride in (0, 16, -3):
        with pytest.raises(ValueError, match="stride"):
            cut_windows(docs, 16, WindowFormat(prefix=(1,)), stride=stride)
    assert len(cut_windows(docs, 16, stride=4, max_windows=5)) == 5 and cut_windows(docs, 16, stride=4).take(2).stride == 4
