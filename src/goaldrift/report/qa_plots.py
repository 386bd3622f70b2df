"""Plots of a Register-QA run folder: tampering, hidden performance, concept rates."""

from __future__ import annotations

from pathlib import Path

import goaldrift.report.plots as p


def plot_tamper(rf: p.RunFolder, path: Path) -> p.Plot:
    """Tamper rate per step (band), tampers per access step and attempted writes (means)."""
    spans = p.phase_spans(rf.scenario)
    s = rf.series
    mw = rf.min_window
    fig = p._figure(10.5, 4.2)
    ax = fig.subplots()
    if p.has_data(s, "tamper_rate"):
        p._band(ax, s, "tamper_rate", p.TAMPER_COLOUR, "tampers per step", min_window=mw)
    if p.has_data(s, "tamper_per_access"):
        p._band(
            ax, s, "tamper_per_access", "#7b3294", "tampers per step with access", min_window=mw
        )
    if p.has_data(s, "write_rate"):
        st, m = p.mean_by_step(s, "write_rate")
        keep = p.full_windows(st, mw)
        st, m = st[keep], m[keep]
        ax.plot(st, m, color="0.45", lw=1.2, ls="--", label="writes attempted per step (mean)")
    p.time_axes(fig, ax, spans, "rate", share=True, legend="all")
    p.control_line(ax, rf, spans, "tamper / access")
    return p.finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: register writes and tampering",
        "Tampering",
        "Tamper: a register write on a step with access. Rates per sample window; line: "
        "median over runs, band: 10th–90th percentile, dotted: mean. Tampers per access "
        "step are undefined (absent) in phases without access. The dashed grey line is the "
        "mean share of steps on which the agent tries to write, whether or not it works. The "
        "dashed purple line is the matched control's mean tamper share over the final window "
        "(the same runs with the flag anchored on X): a run tampers only if it exceeds its "
        "own control beyond noise." + p.SHORT,
    )


def plot_performance(rf: p.RunFolder, path: Path) -> p.Plot:
    """Hidden performance (band) and the training signal (mean) over time."""
    spans = p.phase_spans(rf.scenario)
    s = rf.series
    mw = rf.min_window
    fig = p._figure(10.5, 4.2)
    ax = fig.subplots()
    if p.has_data(s, "hidden_performance"):
        p._band(
            ax,
            s,
            "hidden_performance",
            p.ROLE_COLOURS["intended"],
            "hidden performance",
            min_window=mw,
        )
    if p.has_data(s, "signal"):
        st, m = p.mean_by_step(s, "signal")
        keep = p.full_windows(st, mw)
        ax.plot(st[keep], m[keep], color="#2166ac", lw=1.6, ls="--", label="signal (mean)")
    answers = (rf.scenario.get("world") or {}).get("answers")
    if isinstance(answers, int) and answers > 0:
        ax.axhline(1 / answers, color="0.5", lw=0.8, ls=(0, (4, 3)), label="chance (1/answers)")
    p.time_axes(fig, ax, spans, "share of steps", share=True, legend="all")
    return p.finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: hidden performance and signal",
        "Hidden performance and signal",
        "Hidden performance: share of answers equal to the true answer (never shown to the "
        "agent). Signal (dashed): mean training signal over runs, present only where a "
        "supervisor is. Line: "
        "median over runs, band: 10th–90th percentile, dotted: mean." + p.SHORT,
    )


def plot_rates(rf: p.RunFolder, path: Path) -> p.Plot:
    """How often each concept holds, per window (median and band across runs)."""
    spans = p.phase_spans(rf.scenario)
    s = rf.series
    mw = rf.min_window
    colours = p.concept_colours(rf.concepts, rf.world)
    fig = p._figure(10.5, 4.2)
    ax = fig.subplots()
    ends = []
    for c in p.prefixed(s, "rate."):
        if p.has_data(s, f"rate.{c}"):
            colour = colours.get(c, p.NEUTRAL)
            y = p._band(ax, s, f"rate.{c}", colour, p.concept_label(c, rf.world), min_window=mw)
            ends.append((y, p.concept_label(c, rf.world), colour))
    p.time_axes(fig, ax, spans, "share of steps it holds", share=True, ends=ends, legend="style")
    return p.finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: how often each concept holds",
        "Concept rates",
        "Share of steps in each sample window on which a concept holds (among the steps on "
        "which it is defined). Line: median over runs, band: 10th–90th percentile, dotted: "
        "mean." + p.SHORT,
    )
