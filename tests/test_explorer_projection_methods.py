"""One list of projection methods (explorer.projection_methods), read by every page, the report and
both command lines."""

from fakerun import make_fake_run

from explorer import map_figures, projections, report
from explorer.projection_methods import PRECOMPUTED, PROJECTIONS, methods_for


def test_every_reader_takes_the_one_list():
    from ui.widgets import METHOD_NAMES

    names = list(PROJECTIONS)
    assert list(projections.METHODS) == names and projections.METHODS["tsne"]["perplexity"] == 30.0
    assert list(map_figures.AXIS_NAMES) == names and list(report.SERIES_EPOCHS) == names
    assert list(METHOD_NAMES) == names
    for name, method in PROJECTIONS.items():
        assert projections.parse_params(name, []) == method.params  # no parameter given: the defaults
        assert set(method.params) == set(projections.METHODS[name])


def test_raw_is_offered_only_where_every_embedding_is_2d():
    assert methods_for(2) == ["raw", "pca", "tsne", "umap"] and methods_for(8) == ["pca", "tsne", "umap"]
    assert methods_for({2}) == methods_for(2) and methods_for({2, 8}) == methods_for(8)


def test_the_precomputed_maps_are_the_ones_the_app_asks_for_first(tmp_path, cli):
    from explorer.projections import projection
    from explorer.runs import load_run

    path = make_fake_run(tmp_path, dim=4, n_train=60, n_test=30)
    result = cli("explorer", "project", str(path), "--precomputed")
    assert result.returncode == 0, result.stderr
    assert PRECOMPUTED == ("tsne",)
    cached = sorted((path / "projections").glob("tsne-*.parquet"))
    assert len(cached) == 1 and str(cached[0]) in result.stdout
    projection(load_run(path), method="tsne")  # the app's first request: its defaults, shared mode, seed 0
    assert sorted((path / "projections").glob("*.parquet")) == cached  # read from the cache, not made again
