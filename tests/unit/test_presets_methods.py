"""The presets of the fast recipe and of the Grokfast / Prieto reproductions carry their recipes."""

from grokscope.presets import load_preset


def test_fast_recipe_is_the_default_task_and_model_with_other_optimizer_settings():
    fast, paper = load_preset("swaroop2026_fast"), load_preset("swaroop2026")
    assert fast.task == paper.task and fast.model == paper.model  # same task, same model: only the recipe differs
    assert (fast.optim.name, fast.optim.lr, fast.optim.beta2, fast.optim.weight_decay) == ("adamw", 0.15, 0.95, 1.0)
    assert (fast.train.steps, fast.train.stop_test_acc, fast.train.patience) == (1500, 0.99, 0)


def test_grokfast_preset_is_the_papers_baseline_with_the_filter_off():
    cfg = load_preset("grokfast2024")
    assert (cfg.task.op, cfg.task.p, cfg.task.frac_train) == ("mul", 97, 0.5)
    assert (cfg.model.arch, cfg.model.n_layers, cfg.model.d_model, cfg.model.layer_norm) == ("transformer", 2, 128, True)
    # the published baseline has weight decay 0 (the Grokfast runs 0.005 / 0.01: docs/papers/grokfast2024.md)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.beta2) == ("adam", 1e-3, 0.0, 0.98)
    assert cfg.optim.grokfast_lamb == 0.0 and cfg.train.stop_test_acc == 0.95  # the paper's 95% criterion


def test_prieto_preset_has_no_regularisation_and_stablemax():
    cfg = load_preset("prieto2025")
    assert (cfg.model.arch, cfg.model.n_layers, cfg.model.d_mlp) == ("deep_mlp", 2, 200)
    assert (cfg.task.p, cfg.task.frac_train, cfg.optim.weight_decay, cfg.optim.eps) == (113, 0.4, 0.0, 1e-25)
    assert (cfg.train.probs, cfg.train.batch_size) == ("stablemax", 0)
