"""wizard/kept.py: what the pages keep is bounded by entries and by size, oldest out first (a
worker's memory stays bounded however many reports, sections or blocks its users open)."""
import threading

from wizard.kept import Kept


def test_the_oldest_go_first_when_the_entries_are_full():
    kept = Kept(3)
    for k in "abcd":
        kept.put(k, k.upper())
    assert [kept.get(k) for k in "abcd"] == [None, "B", "C", "D"] and len(kept) == 3


def test_the_oldest_go_first_until_a_new_value_fits_the_size():
    kept = Kept(100, max_size=10)
    kept.put("a", "x" * 4, 4)
    kept.put("b", "y" * 4, 4)
    kept.put("c", "z" * 5, 5)  # 13 > 10: "a" goes, 9 remain
    assert kept.get("a") is None and kept.get("b") and kept.get("c") and kept.size == 9
    kept.put("b", "w" * 2, 2)  # replaced: its old size no longer counts
    assert kept.size == 7 and kept.get("b") == "ww"


def test_a_value_larger_than_the_whole_bound_is_not_kept_and_evicts_nothing():
    kept = Kept(100, max_size=10)
    kept.put("a", "x", 1)
    kept.put("huge", "y" * 11, 11)
    assert kept.get("huge") is None and kept.get("a") == "x" and kept.size == 1


def test_threads_putting_at_once_keep_the_bounds():
    kept = Kept(50, max_size=500)

    def put(n):
        for i in range(2000):
            kept.put((n, i), "v" * 7, 7)
    threads = [threading.Thread(target=put, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) <= 50 and kept.size <= 500 and kept.size == 7 * len(kept)
