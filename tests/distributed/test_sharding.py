from types import SimpleNamespace

import pytest

from corrrelax_lib.distributed.sharding import shard


def test_shards_are_round_robin_over_sorted_ids_and_cover_every_item_once():
    ids = [f"img{i:02d}" for i in (7, 3, 11, 0, 5, 9, 1)]
    shards = [shard(ids, rank, 3, key=str) for rank in range(3)]
    assert shards == [["img00", "img05", "img11"], ["img01", "img07"], ["img03", "img09"]]
    assert sorted(item for part in shards for item in part) == sorted(ids)


def test_shards_do_not_depend_on_input_order_and_default_to_image_id():
    images = [SimpleNamespace(image_id=name) for name in "dbca"]
    assert [image.image_id for image in shard(images, 0, 2)] == ["a", "c"]
    assert [image.image_id for image in shard(images[::-1], 0, 2)] == ["a", "c"]
    assert shard(images, 0, 1) == sorted(images, key=lambda image: image.image_id)


def test_more_ranks_than_items_leaves_some_ranks_idle():
    assert [shard(["a", "b"], rank, 4, key=str) for rank in range(4)] == [["a"], ["b"], [], []]


@pytest.mark.parametrize(("rank", "world_size"), [(2, 2), (-1, 2), (0, 0)])
def test_rank_outside_the_world_is_refused(rank, world_size):
    with pytest.raises(ValueError, match="not in"):
        shard(["a"], rank, world_size, key=str)


def test_repeated_ids_are_refused():
    with pytest.raises(ValueError, match=r"repeated: \['b'\]"):
        shard(["a", "b", "b"], 0, 2, key=str)
