"""Stable-Baselines3 PPO trained briefly on ``goaldrift/RegisterQA-v0`` and probed, through the
Python API and ``goaldrift probe --model`` (docs/sb3.md, "Probed behaviour")."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from tests.test_cli import goaldrift

pytest.importorskip("stable_baselines3")

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger

from goaldrift.probes import policy as pp
from goaldrift.worlds import QA_GYM_ID

pytestmark = pytest.mark.slow
SEED = 0


@pytest.fixture(scope="module")
def model() -> PPO:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gymnasium: render_mode not supported
        venv = make_vec_env(QA_GYM_ID, n_envs=1, seed=SEED)  # the env is reset(seed=SEED)
    m = PPO("MlpPolicy", venv, seed=SEED, device="cpu", verbose=0, n_steps=512)
    m.set_logger(Logger(folder=None, output_formats=[]))
    m.learn(total_timesteps=6 * 512)
    return m


def test_ppo_on_register_qa_learns_the_truth_of_its_own_world(model: PPO) -> None:
    s = pp.probe_policy(pp.sb3_policy(model), QA_GYM_ID, [0], SEED)
    assert s.score.shape == (1, 4)
    correct = s.objectives.index("correct")
    # the label is the truth (no noise, no access): the signal pays the intended answer
    assert s.score[0, correct] > 0.5 and s.lo[0, correct] > 0
    assert s.behaviour()[0] in ("intended", "mixed")
    # in other worlds (other truth tables) its answers are no better than chance
    other = pp.probe_policy(pp.sb3_policy(model), QA_GYM_ID, [1, 2, 3, 4], SEED)
    assert np.abs(other.score[:, correct].mean()) < 0.5


def test_goaldrift_probe_takes_the_saved_model(model: PPO, tmp_path: Path) -> None:
    path = tmp_path / "ppo_qa.zip"
    model.save(path)
    sc = tmp_path / "qa.toml"
    sc.write_text(
        'name = "qa"\nseed = 0\n[agent]\nflag_rule = "anchored"\n[[phases]]\nname = "a"\n'
        "steps = 100\n"
    )
    proc = goaldrift("probe", sc, "--model", path, "--algo", "ppo", "--json", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["policy"] == {"model": str(path), "algo": "ppo"}
    want = pp.summarise(pp.probe_policy(pp.sb3_policy(model), QA_GYM_ID, [0], SEED))
    assert out["objectives"] == want["objectives"]
    bad = goaldrift("probe", sc, "--model", path, "--see-register")
    assert bad.returncode == 2 and "'--see-register' must be given for a model" in bad.stderr
