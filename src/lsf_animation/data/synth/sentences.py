"""The corpus's sentences: original, varied English (statements, questions, exclamations, lists,
numbers, short and long), with plenty of open vowels and bilabials.

Sentence `i` (0-based) is written as `NNN` = i + 1 in the corpus layout. The list is split into
disjoint pools for the train / val / test speakers (`sentence_pools`).
"""

from __future__ import annotations

SENTENCES: tuple[str, ...] = (
    "Bob parked the van by the old barn at dawn.",
    "My mother bought a map of the harbour for the trip.",
    "Would you open the window a little wider, please?",
    "The bakery on Palm Street sells warm apple pie.",
    "I can hardly believe the match was cancelled again.",
    "Put the big box of papers back on the top shelf.",
    "Nobody told me the museum was closed on Mondays.",
    "Father's car broke down halfway up the mountain road.",
    "Maybe we should ask Paul about the budget first.",
    "The band played music by the pond all afternoon.",
    "Why are all the lamps in the hall switched off?",
    "Mark made a mess of the kitchen while baking bread.",
    "Two hundred and fifty people came to the market.",
    "Please pass me the pepper and a small bowl of soup.",
    "The garden was quiet except for a barking dog.",
    "Have you ever watched the moon rise over the bay?",
    "A tall man in a brown coat waited by the bus stop.",
    "Mabel lost her purple umbrella on the way home.",
    "Our neighbour paints boats in his spare time.",
    "The path along the harbour is calm in the morning.",
    "Stop! Don't move that box until I come back.",
    "Martha opened the parcel and found a pair of boots.",
    "It rained so hard that the park became a pond.",
    "The pilot announced a delay of about forty minutes.",
    "My brother plays the trumpet badly but proudly.",
    "Pack a warm jumper; it gets cold by the water.",
    "The library will be open from nine until five.",
    "Amber watched the ball bounce across the lawn.",
    "What a wonderful surprise to meet you here!",
    "The farmer drove his cattle up the hill at noon.",
    "Put some butter on the pan before the batter.",
    "He promised to call me back, but he never did.",
    "The old bridge might not survive another winter.",
    "A parrot on the balcony shouted at the postman.",
    "My aunt collects maps, stamps and old photographs.",
    "Are we supposed to bring our own plates and cups?",
    "The lights went out just as the movie began.",
    "Barbara hummed a calm tune while she combed her hair.",
    "Most of the apples fell before they were ripe.",
    "The captain ordered the crew to lower the boats.",
    "A bumblebee buzzed around the bright pink blossom.",
    "Please be patient; the doctor will be back soon.",
    "The market smelled of bread, oranges and coffee.",
    "I dropped my phone in the bath this morning.",
    "Somebody left a bag of marbles on the bottom step.",
    "The map shows a path past the farm to the pub.",
    "Far above the palm trees, a plane drew a white line.",
    "Tom bought a lamp, a mop and a large bucket.",
)


def sentence_pools(num_sentences: int = len(SENTENCES)) -> dict[str, tuple[int, ...]]:
    """Disjoint 0-based sentence indices per split: the first two thirds for training, then a
    sixth each for validation and test (so test clips are unseen speakers on unseen sentences)."""
    n_train = (2 * num_sentences) // 3
    n_val = (num_sentences - n_train) // 2
    indices = tuple(range(num_sentences))
    return {
        "train": indices[:n_train],
        "val": indices[n_train : n_train + n_val],
        "test": indices[n_train + n_val :],
    }
