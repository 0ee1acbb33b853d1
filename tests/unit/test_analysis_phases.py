from grokscope.analysis.phases import phase_events


def rows(train, test, steps=None):
    steps = steps or [i * 500 for i in range(len(train))]
    return [{"step": s, "train_acc": tr, "test_acc": te} for s, tr, te in zip(steps, train, test)]


def test_phase_events_on_a_planted_series():
    steps = [0, 100, 200, 300, 400, 500, 600, 700]
    metrics = rows([0.1, 0.995, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0, 0, 0, 0, 0.2, 0.5, 0.995, 1.0], steps)
    ex = [4.0, 1.0, 0.5, 0.8, 1.5, 3.0, 4.0, 4.0]
    re = [4.0, 4.0, 4.0, 3.0, 1.5, 0.5, 0.1, 0.01]
    gi = [0.1, 0.1, 0.1, 0.12, 0.15, 0.2, 0.6, 0.7]
    analysis = [{"step": s, "excluded_loss_train": e, "restricted_loss_test": r, "gini_W_L": g}
                for s, e, r, g in zip(steps, ex, re, gi)]
    ev = phase_events(metrics, analysis)
    assert ev["t_train99"] == 100 and ev["t_mem_end"] == 200 and ev["t_val99"] == 600
    assert ev["t_circuit"] == 400  # min excluded at 200 (0.5); 400: 1.5 >= 1.0 and 1.5 <= 2.0
    assert ev["t_cleanup"] == 600  # gini from 0.15 to 0.7: half-way 0.425 first reached at 600
    assert phase_events(metrics)["t_circuit"] is None
