import torch

from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from methods.base import Job, load_method
from methods.best_of_n import candidate_seed
from rewards import load_reward


def _job(gen, prompts, seeds):
    meter = Meter()
    reward = load_reward("redness")
    return Job(MeteredGenerator(gen, meter), MeteredReward(reward, meter), prompts, seeds, meter), meter


def test_keeps_exactly_the_best_of_8_scored_one_by_one(toy):
    prompts, seeds = ["a red circle", "a blue square", "a red circle"], [0, 1, 5]
    run, _ = load_method("best-of-n", {"n": "8", "batch_size": "3"})
    job, meter = _job(toy, prompts, seeds)
    samples = run(job)
    reward = load_reward("redness")
    for prompt, seed, sample in zip(prompts, seeds, samples):
        # every candidate generated and scored alone
        alone = []
        for k in range(8):
            z = toy.noise([candidate_seed(seed, k)])
            with torch.no_grad():
                img = toy.generate(z, toy.encode([prompt]))
                alone.append((float(reward.score(img, [prompt])), img[0]))
        best = max(range(8), key=lambda k: alone[k][0])
        assert sample.extras["best_index"] == best
        assert abs(sample.reward - alone[best][0]) < 1e-6
        assert torch.allclose(sample.image, alone[best][1], atol=1e-6)
        assert abs(sample.reward_initial - alone[0][0]) < 1e-6
        assert len(sample.extras["candidate_rewards"]) == 8
        assert sample.reward >= sample.reward_initial
    # cost: n generations and n reward forwards per image
    assert meter.per_image(3)["nfe"] == 8 and meter.per_image(3)["reward_forward"] == 8
    assert meter.reward_backward == 0


def test_candidate_zero_is_the_base_draw(toy):
    assert candidate_seed(7, 0) == 7
    assert len({candidate_seed(7, k) for k in range(50)}) == 50


def test_batch_layout_does_not_change_the_choice(toy):
    prompts, seeds = ["x", "y"], [3, 4]
    a = load_method("best-of-n", {"n": 5, "batch_size": 1})[0](_job(toy, prompts, seeds)[0])
    b = load_method("best-of-n", {"n": 5, "batch_size": 10})[0](_job(toy, prompts, seeds)[0])
    for sa, sb in zip(a, b):
        assert sa.extras["best_index"] == sb.extras["best_index"]
        assert torch.allclose(sa.image, sb.image, atol=1e-6)


def test_reports_its_progress_after_every_chunk_of_candidates(toy):
    heard = []
    job, _ = _job(toy, ["a", "b"], [0, 1])
    job.on_progress = heard.append
    load_method("best-of-n", {"n": "3", "batch_size": "4"})[0](job)
    assert heard == [4 / 6, 1.0]  # 6 (row, candidate) pairs in chunks of 4
