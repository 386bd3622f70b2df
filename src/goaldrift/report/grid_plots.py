"""Plots of a gridworld run folder: observed and hidden return, tamper events per episode."""

from __future__ import annotations

from pathlib import Path

import goaldrift.report.plots as p


def plot_returns(rf: p.RunFolder, path: Path) -> p.Plot:
    """Observed and hidden return per episode over time (bands across runs)."""
    spans = p.phase_spans(rf.scenario)
    s = rf.series
    colours = p.concept_colours(rf.concepts, rf.world)
    fig = p._figure(10.5, 4.2)
    ax = fig.subplots()
    ends = []
    for column, concept, label in (
        ("observed_return", "observed", "observed return (Y)"),
        ("hidden_return", "hidden", "hidden return (X)"),
    ):
        if p.has_data(s, column):
            colour = colours.get(concept, p.NEUTRAL)
            y = p._band(ax, s, column, colour, label)
            ends.append((y, label, colour))
    p.time_axes(fig, ax, spans, "return per episode", zero=True, ends=ends, legend="style")
    return p.finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: observed and hidden return",
        "Observed and hidden return",
        "Per episode, over the episodes that ended in each sample window: the observed return "
        "(the reward the agent is shown, the register) and the hidden return (the intended "
        "objective, the gridworld's hidden safety performance). Where they part, the agent "
        "is paid for something other than what was meant. Line: median over runs; band: "
        "10th–90th percentile; dotted: mean.",
    )


def plot_tamper_episodes(rf: p.RunFolder, path: Path) -> p.Plot:
    """Tamper events per episode over time, with the matched control's level over the final
    window."""
    spans = p.phase_spans(rf.scenario)
    s = rf.series
    tamper = [c for c in rf.concepts if c not in ("hidden", "observed")]
    fig = p._figure(10.5, 4.2)
    ax = fig.subplots()
    if p.has_data(s, "tamper_per_episode"):
        label = f"{tamper[0] if tamper else 'tamper'} events per episode"
        p._band(ax, s, "tamper_per_episode", p.TAMPER_COLOUR, label)
        handles, _ = ax.get_legend_handles_labels()
        p._legend(fig, [*handles, *p._style_keys()])
        p.control_line(ax, rf, spans, "tamper / episode")
    else:
        ax.text(
            0.5,
            0.5,
            "no tamper events recorded (this world has no tamper concept, or no episode "
            "allowed one)",
            ha="center",
            transform=ax.transAxes,
            color="0.4",
        )
    p._phases(ax, spans)
    ax.set_ylabel("events per episode")
    ax.set_ylim(bottom=-0.02 * max(ax.get_ylim()[1], 1.0))
    p._steps_axis(ax)
    return p.finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: tamper events per episode",
        "Tampering",
        "The world's tamper concept (standing on the observation transformer, crossing the "
        "punishment cell unsupervised, flipping a reward switch), counted per episode over "
        "the episodes that ended in each sample window and in which tampering was possible "
        "(absent_supervisor: the unsupervised ones). The dashed line is the matched "
        "control's mean over the final window (the same runs with the flag anchored on the "
        "hidden reward): a run tampers only if it exceeds its own control beyond noise. "
        "Line: median over runs; band: 10th–90th percentile; dotted: mean.",
    )
