"""A tiny random-weight llama GGUF, written on the fly for tests that need a real model file.

The model is nonsense (random weights), but it is a valid llama-architecture GGUF that
llama.cpp loads in milliseconds: 2 layers, 64-dim, 4 heads, a SentencePiece-style
vocabulary of a few hundred pieces including the 256 byte tokens, so any text (Arabic,
Tifinagh, ...) can be tokenized. The output layer is rigged so that sampling prefers the
printable "normal" pieces over byte/control tokens, which keeps generated text readable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from gguf import GGUFWriter, LlamaFileType, TokenType

# A ChatML-style template (deliberately not byte-identical to llama-cpp-python's built-in
# "chatml" one, so that llama-cpp-python formats prompts with *this* template from the file).
DEFAULT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

CONTEXT_LENGTH = 512
EMBEDDING_LENGTH = 64
BLOCK_COUNT = 2
FEED_FORWARD_LENGTH = 128
HEAD_COUNT = 4
HEAD_COUNT_KV = 4
HEAD_DIM = EMBEDDING_LENGTH // HEAD_COUNT
RMS_EPSILON = 1e-5

UNK_ID = 0
BOS_ID = 1
EOS_ID = 2

_SPECIAL_TOKENS: tuple[tuple[str, TokenType], ...] = (
    ("<unk>", TokenType.UNKNOWN),
    ("<s>", TokenType.CONTROL),
    ("</s>", TokenType.CONTROL),
    ("<|im_start|>", TokenType.CONTROL),
    ("<|im_end|>", TokenType.CONTROL),
)
_WORDS = ("the", "and", "salam", "is", "of", "to", "in", "hello", "yes", "no")
_PUNCTUATION = ("[", "]", ".", ",", "!", "?", ":", "-", "'", "(", ")")
_SPACE = "\u2581"  # SentencePiece's "▁" word-boundary marker

Matrix = npt.NDArray[np.float32]


def _vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of the tiny SentencePiece-style vocabulary."""
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []

    def add(piece: str, score: float, kind: TokenType) -> None:
        if piece not in tokens:
            tokens.append(piece)
            scores.append(score)
            types.append(int(kind))

    for piece, kind in _SPECIAL_TOKENS:
        add(piece, 0.0, kind)
    for byte in range(256):
        add(f"<0x{byte:02X}>", 0.0, TokenType.BYTE)

    # Normal pieces. SentencePiece merges adjacent pieces by score, so every prefix of a
    # word piece must be in the vocabulary for the word to be reachable; longer pieces
    # score higher so that the tokenizer prefers them.
    singles = [
        _SPACE,
        *"abcdefghijklmnopqrstuvwxyz",
        *"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        *"0123456789",
        *_PUNCTUATION,
    ]
    for piece in singles:
        add(piece, -1.0, TokenType.NORMAL)
    for word in _WORDS:
        spaced = _SPACE + word
        for end in range(2, len(spaced) + 1):
            add(spaced[:end], float(end), TokenType.NORMAL)
    return tokens, scores, types


def _normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> Matrix:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def write_tiny_llama(
    path: Path, *, seed: int = 0, chat_template: str | None = DEFAULT_TEMPLATE
) -> Path:
    """Write a random-weight llama-architecture GGUF (2 layers, 64-dim, a ~300-token
    SentencePiece-style vocabulary with the 256 byte tokens <0x00>..<0xFF>, BOS/EOS/UNK)
    and return path.

    The file is deterministic for a given ``seed`` (about 0.5 MB, f32 tensors). With
    ``chat_template=None`` no ``tokenizer.chat_template`` key is written.
    """
    tokens, scores, types = _vocabulary()
    n_vocab = len(tokens)
    rng = np.random.default_rng(seed)
    d, ff = EMBEDDING_LENGTH, FEED_FORWARD_LENGTH

    # Residual dimension 0 carries a constant (no layer writes to it), so after the final
    # RMS norm it is reliably positive; the output rows of byte/control tokens weigh it
    # strongly negative, which keeps them out of sampling and the generated text printable.
    token_embd = _normal(rng, (n_vocab, d), 1.0)
    token_embd[:, 0] = 2.0
    output = _normal(rng, (n_vocab, d), 1.0)
    output[:, 0] = 0.0
    suppressed = [i for i, kind in enumerate(types) if kind != int(TokenType.NORMAL)]
    output[suppressed, 0] = -30.0

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "llama")
    writer.add_name("siyada-tiny-llama")
    writer.add_file_type(int(LlamaFileType.ALL_F32))
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(d)
    writer.add_block_count(BLOCK_COUNT)
    writer.add_feed_forward_length(ff)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_head_count(HEAD_COUNT)
    writer.add_head_count_kv(HEAD_COUNT_KV)
    writer.add_layer_norm_rms_eps(RMS_EPSILON)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(UNK_ID)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    ones = np.ones(d, dtype=np.float32)
    writer.add_tensor("token_embd.weight", token_embd)
    for layer in range(BLOCK_COUNT):
        prefix = f"blk.{layer}"
        attn_output = _normal(rng, (d, HEAD_COUNT * HEAD_DIM), d**-0.5)
        attn_output[0, :] = 0.0
        ffn_down = _normal(rng, (d, ff), ff**-0.5)
        ffn_down[0, :] = 0.0
        writer.add_tensor(f"{prefix}.attn_norm.weight", ones)
        writer.add_tensor(
            f"{prefix}.attn_q.weight", _normal(rng, (HEAD_COUNT * HEAD_DIM, d), d**-0.5)
        )
        writer.add_tensor(
            f"{prefix}.attn_k.weight", _normal(rng, (HEAD_COUNT_KV * HEAD_DIM, d), d**-0.5)
        )
        writer.add_tensor(
            f"{prefix}.attn_v.weight", _normal(rng, (HEAD_COUNT_KV * HEAD_DIM, d), d**-0.5)
        )
        writer.add_tensor(f"{prefix}.attn_output.weight", attn_output)
        writer.add_tensor(f"{prefix}.ffn_norm.weight", ones)
        writer.add_tensor(f"{prefix}.ffn_gate.weight", _normal(rng, (ff, d), d**-0.5))
        writer.add_tensor(f"{prefix}.ffn_up.weight", _normal(rng, (ff, d), d**-0.5))
        writer.add_tensor(f"{prefix}.ffn_down.weight", ffn_down)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def truncate_copy(source: Path, target: Path, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of ``source``'s bytes to ``target`` and return target.

    Used to check that a truncated (e.g. interrupted download) GGUF is refused.
    """
    if not 0.0 <= keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be within [0, 1], got {keep_fraction}")
    data = source.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data[: int(len(data) * keep_fraction)])
    return target
