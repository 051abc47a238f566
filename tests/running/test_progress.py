"""Progress in a log file: plain lines at each tenth and at the end, no carriage returns; the
running mean reward in them."""

import io

from bench.running.progress import Progress


def test_a_log_gets_a_plain_line_each_tenth_with_the_running_mean():
    out = io.StringIO()
    bar = Progress(total=100, done=0, label="base", stream=out)
    for i in range(25):
        bar.update(4, [float(i), float("nan")])
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10 and lines[-1].startswith("base: 100/100 images (100%)")
    assert lines[0].startswith("base: 12/100 images (12%)")
    assert lines[-1].endswith("mean reward 12")  # mean of 0..24, the NaNs left out


def test_a_resumed_run_counts_from_where_it_was_and_a_finished_one_says_nothing():
    out = io.StringIO()
    bar = Progress(total=10, done=7, label="reno", stream=out)
    bar.update(3)
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("reno: 10/10 images (100%)")
    quiet = io.StringIO()
    Progress(total=10, done=10, label="reno", stream=quiet).update(0)
    Progress(total=10, done=0, label="reno", stream=quiet, enabled=False).update(10)
    assert quiet.getvalue() == ""


def test_the_bar_moves_inside_a_batch_as_the_method_reports_and_counts_each_image_once():
    out = io.StringIO()
    bar = Progress(total=20, done=0, label="reno", stream=out)
    for it in range(1, 11):  # one batch of 20 images, ten iterations
        bar.partial(20, it / 10)
    assert bar.done == 19  # the last image counts when the batch returns
    assert out.getvalue().splitlines()[0].startswith("reno: 2/20 images (10%)")
    bar.update(20, [1.0] * 20)
    assert bar.done == 20 and out.getvalue().splitlines()[-1].startswith("reno: 20/20 images (100%)")
    assert len(out.getvalue().splitlines()) == 10


def test_a_long_run_of_one_batch_shows_progress_before_it_ends(tmp_path, capsys):
    import bench

    bench.run("reno", settings={"iterations": 10}, limit=1, seeds=[0], batch_size=6, out=tmp_path / "r",
              save_images=False, config={}, progress=True, warmup=False)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" images")[0] for line in lines] == [f"reno: {k}/6" for k in range(1, 7)]
