"""Predictive risk stratification (docs/reference/analytics-definitions.md §5).

Two prospective models trained on the population's own history with scikit-learn's histogram gradient boosting
(seeded, so the same data gives the same model): next-year cost and any acute admission next year. Features of a
member in year t: enrolled months, age and sex, dual status, spending by service category, acute admissions and ED
visits (claims: inpatient bill type 11x claims, outpatient claims with revenue 0450-0459/0981). With history years
y1 < y2 < y3 (the last three calendar years the data cover): train on features of y1 → outcomes of y2, validate on
the held-out pair y2 → y3 (cost: R², MAE, predictive ratio by decile; admission: AUC, Brier, calibration by
decile), then score features of y3 for the year after: the high-risk worklist (the top 5 % of predicted cost) and
the rising-risk worklist (not high risk, predicted cost at least 1.5 x this year's and in the top 20 %), each with
its reasons. The model is fit on every member of the run, or on a stratified sample of at most ``MAX_TRAINING``
member-years when the population is larger (said in the validation block); the worklists list the scoped members.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.errors import ConfigurationError
from apmkit.money import to_cents
from apmkit.reports.framework import (
    ReportInputs,
    ReportOutput,
    ReportRequest,
    bar_chart,
    panel,
    register,
    scope_note,
    tidy,
)
from apmkit.reports.marts import MEMBER_FEATURES

CATEGORIES = ("inpatient", "outpatient", "professional", "snf", "hha", "hospice", "dme")
FEATURES = (
    "enrolled_months",
    "age",
    "female",
    "dual",
    *(f"cost_{c}" for c in CATEGORIES),
    "cost_pharmacy",
    "admissions",
    "ed_visits",
)
SEED = 20_240_101
HIGH_RISK_SHARE = 0.05
RISING_SHARE = 0.20
RISING_FACTOR = 1.5
ED_CODES = (*(f"{c:04d}" for c in range(450, 460)), "0981")
MAX_TRAINING = 20_000
"""Member-years the models are fit on at most (a stratified sample above it): training time stays bounded on a
large population, the validation still scores every held-out member."""
MODEL_VERSION = "sklearn HistGradientBoosting (max_iter=200, learning_rate=0.05, seed 20240101)"


def member_years(inputs: ReportInputs) -> ir.Table:
    """``member_id, year`` + :data:`FEATURES` (dollars as float) for every member-year with enrollment."""
    enrollment = inputs["enrollment"]
    months = enrollment.select(
        member_id=enrollment.member_id.cast("string"),
        year=enrollment.month.year().cast("int32"),
        month=enrollment.month.truncate("M"),
        dual=enrollment.dual_status_code.fill_null("NA").isin(
            ["01", "02", "03", "04", "05", "06", "08", "09", "10"]
        ),
    )
    base = months.group_by(["member_id", "year"]).aggregate(
        enrolled_months=months.month.nunique(), dual=months.dual.any().cast("int32")
    )
    claims = inputs["medical_claims"]
    claims = claims.filter(claims.adjustment_type.fill_null("original") != "void")
    day = ibis.coalesce(claims.service_date, claims.claim_from_date)
    cents = to_cents(claims[inputs.run.cost_basis].fill_null(0))
    lines = claims.select(
        member_id=claims.member_id.cast("string"),
        year=day.year().cast("int32"),
        claim_type=claims.claim_type,
        claim_id=claims.claim_id,
        cents=cents,
        admission=(claims.claim_type == "inpatient") & claims.bill_type.fill_null("").startswith("11"),
        ed=(claims.claim_type == "outpatient") & claims.revenue_code.fill_null("").isin(list(ED_CODES)),
    )
    spend = lines.group_by(["member_id", "year"]).aggregate(
        **{
            f"cost_{c}": (lines.cents.sum(where=lines.claim_type == c).fill_null(0) / 100.0)
            for c in CATEGORIES
        },
        admissions=lines.claim_id.nunique(where=lines.admission),
        ed_visits=lines.claim_id.nunique(where=lines.ed),
    )
    table = tidy(base.left_join(spend, ["member_id", "year"]))
    if inputs.has("pharmacy_claims"):
        rx = inputs["pharmacy_claims"]
        rx = rx.filter(rx.adjustment_type.fill_null("original") != "void")
        rx_year = rx.group_by(
            member_id=rx.member_id.cast("string"), year=rx.dispensing_date.year().cast("int32")
        ).aggregate(cost_pharmacy=to_cents(rx[inputs.run.cost_basis].fill_null(0)).sum() / 100.0)
        table = tidy(table.left_join(rx_year, ["member_id", "year"]))
    else:
        table = table.mutate(cost_pharmacy=ibis.literal(0.0))
    members = inputs["members"]
    demo = members.select(
        member_id=members.member_id.cast("string"),
        birth_year=members.birth_date.year(),
        female=(members.sex == "F").cast("int32"),
    ).distinct(on="member_id", keep="first")
    table = tidy(table.left_join(demo, "member_id"))
    fills = {c: table[c].fill_null(0) for c in FEATURES if c not in ("age",)}
    return table.select(
        "member_id",
        "year",
        **{c: fills[c].cast("float64") for c in FEATURES if c != "age"},
        age=(table.year - table.birth_year.fill_null(table.year - 70)).cast("float64"),
    )


def training_pairs(features: ir.Table, first: int) -> ir.Table:
    """Features of year ``first`` with the outcomes of ``first + 1``: ``next_cost`` and ``next_admitted``."""
    now = features.filter(features.year == first)
    later = features.filter(features.year == first + 1)
    total = sum((later[f"cost_{c}"] for c in (*CATEGORIES, "pharmacy")), ibis.literal(0.0))
    outcome = later.select(
        member_id=later.member_id, next_cost=total, next_admitted=(later.admissions > 0).cast("int32")
    )
    return now.inner_join(outcome, "member_id")


def stratified_sample(pairs: ir.Table, limit: int, population: int) -> ir.Table:
    """A bounded, stratified, reproducible sample of ``pairs`` (``population`` rows): strata are admitted next year
    (0/1) x decile of next-year cost; each stratum keeps ceil(its size x ``limit`` / ``population``) members, the
    first in the order of a hash of ``member_id`` (so the same data give the same sample on one engine)."""
    decile = ibis.ntile(10).over(order_by=[pairs.next_cost, pairs.member_id])
    strata = pairs.mutate(_stratum=pairs.next_admitted.cast("int64") * 10 + decile.cast("int64"))
    window = ibis.window(group_by=strata._stratum, order_by=[strata.member_id.hash(), strata.member_id])
    ranked = strata.mutate(
        _rank=ibis.row_number().over(window), _size=strata.count().over(group_by=strata._stratum)
    )
    quota = (ranked._size.cast("float64") * limit / population).ceil()
    return ranked.filter(ranked._rank < quota).drop("_stratum", "_rank", "_size")


def _deciles(predicted, actual, kind: str) -> list[dict[str, object]]:
    import numpy as np

    order = np.argsort(predicted, kind="stable")
    rows: list[dict[str, object]] = []
    for index, chosen in enumerate(np.array_split(order, 10), start=1):
        if len(chosen) == 0:
            continue
        p, a = float(predicted[chosen].mean()), float(actual[chosen].mean())
        rows.append(
            {
                "model": kind,
                "decile": index,
                "members": len(chosen),
                "mean_predicted": round(p, 4),
                "mean_observed": round(a, 4),
                "predictive_ratio": round(p / a, 4) if a else None,
            }
        )
    return rows


def _matrix(table: pa.Table):
    import numpy as np

    return np.column_stack([table.column(f).to_numpy(zero_copy_only=False).astype(float) for f in FEATURES])


def fit_and_score(train: pa.Table, test: pa.Table, current: pa.Table) -> dict[str, object]:
    """Fit on ``train`` (features + ``next_cost``, ``next_admitted``), validate on ``test``, score ``current``.
    Returns the metrics, the calibration rows and the scores of ``current`` (member_id, predicted_cost,
    admission_probability)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import brier_score_loss, mean_absolute_error, r2_score, roc_auc_score
    from threadpoolctl import threadpool_limits

    if train.num_rows < 20 or test.num_rows < 20:
        raise ConfigurationError(
            f"prediction: too few members enrolled in consecutive years (training {train.num_rows}, validation "
            f"{test.num_rows}; at least 20 each)"
        )
    train_cost = train.column("next_cost").to_numpy(zero_copy_only=False).astype(float)
    train_adm = train.column("next_admitted").to_numpy(zero_copy_only=False).astype(int)
    test_cost = test.column("next_cost").to_numpy(zero_copy_only=False).astype(float)
    test_adm = test.column("next_admitted").to_numpy(zero_copy_only=False).astype(int)
    if len(np.unique(train_adm)) < 2:
        raise ConfigurationError("prediction: in the training year no member (or every member) was admitted")
    # One OpenMP thread: the fits are bounded (MAX_TRAINING rows), where threads gain little, and OpenMP's
    # threads spin-wait for a core another process holds: on a busy 2-core machine the same fit took 52.8 s
    # instead of 0.45 s. The models and their predictions do not depend on the thread count.
    train_matrix, test_matrix = _matrix(train), _matrix(test)
    with threadpool_limits(limits=1, user_api="openmp"):
        cost_model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=SEED)
        cost_model.fit(train_matrix, train_cost)
        adm_model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=SEED)
        adm_model.fit(train_matrix, train_adm)
        predicted_cost = cost_model.predict(test_matrix)
        predicted_adm = adm_model.predict_proba(test_matrix)[:, 1]
    auc = float(roc_auc_score(test_adm, predicted_adm)) if len(np.unique(test_adm)) > 1 else None
    metrics = [
        {"model": "cost", "metric": "R2", "value": round(float(r2_score(test_cost, predicted_cost)), 4)},
        {
            "model": "cost",
            "metric": "MAE",
            "value": round(float(mean_absolute_error(test_cost, predicted_cost)), 2),
        },
        {"model": "cost", "metric": "members", "value": float(test.num_rows)},
        {"model": "admission", "metric": "AUC", "value": None if auc is None else round(auc, 4)},
        {
            "model": "admission",
            "metric": "Brier",
            "value": round(float(brier_score_loss(test_adm, predicted_adm)), 4),
        },
        {"model": "admission", "metric": "observed_rate", "value": round(float(test_adm.mean()), 4)},
    ]
    calibration = _deciles(predicted_cost, test_cost, "cost") + _deciles(predicted_adm, test_adm, "admission")
    current_matrix = _matrix(current)
    scores = pa.table(
        {
            "member_id": current.column("member_id"),
            "predicted_cost": pa.array(np.round(cost_model.predict(current_matrix), 2), pa.float64()),
            "admission_probability": pa.array(
                np.round(adm_model.predict_proba(current_matrix)[:, 1], 4), pa.float64()
            ),
        }
    )
    return {"metrics": metrics, "calibration": calibration, "scores": scores}


def _money_text(value: ir.NumericValue) -> ir.StringValue:
    return "$" + value.round(0).cast("int64").cast("string")


def worklists(
    scores: ir.Table, current: ir.Table, members: ir.Table, year: int, high_cut: float, rising_cut: float
) -> tuple[ir.Table, ir.Table]:
    """High-risk and rising-risk members of ``members`` (scoped panel), with reasons."""
    total = sum((current[f"cost_{c}"] for c in (*CATEGORIES, "pharmacy")), ibis.literal(0.0))
    facts = current.select(
        "member_id", "admissions", "ed_visits", "cost_inpatient", cost_this_year=total.round(2)
    )
    joined = scores.inner_join(facts, "member_id").inner_join(members, "member_id")
    reasons = (
        ibis.ifelse(
            joined.admissions > 0,
            joined.admissions.cast("int64").cast("string") + f" admission(s) in {year}; ",
            "",
        )
        + ibis.ifelse(
            joined.ed_visits > 0,
            joined.ed_visits.cast("int64").cast("string") + f" ED visit(s) in {year}; ",
            "",
        )
        + f"spending in {year} "
        + _money_text(joined.cost_this_year)
        + ibis.ifelse(joined.cost_inpatient > 0, "; inpatient " + _money_text(joined.cost_inpatient), "")
    )
    listed = joined.select(
        "member_id",
        "entity_id",
        "tin",
        "npi",
        "predicted_cost",
        "admission_probability",
        "cost_this_year",
        reasons=reasons,
    )
    high = listed.filter(listed.predicted_cost >= high_cut)
    rising = listed.filter(
        (listed.predicted_cost < high_cut)
        & (listed.predicted_cost >= rising_cut)
        & (listed.predicted_cost >= listed.cost_this_year * RISING_FACTOR)
    )
    order = [ibis.desc("predicted_cost"), "member_id"]
    return high.order_by(order), rising.order_by(order)


def annotate(inputs: ReportInputs, lists: list[ir.Table], year: int) -> tuple[ir.Table, ir.Table, list[str]]:
    """The worklists with the members' CMS-HCC V28 HCCs (payment year ``year + 1``, from the year's claims) and
    their open gaps in care in ``year`` (the gaps report's eCQMs), added to the reasons."""
    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.reports.marts import gaps_of_year, hccs_of_year

    notes: list[str] = []
    listed = lists[0].select("member_id").union(lists[1].select("member_id")).distinct()
    people = inputs.keep(listed)
    annotated = []
    hccs = None
    if year + 1 in range(2024, 2028):
        hccs, from_mart = hccs_of_year(inputs, people, year)
        notes.append(f"reasons: CMS-HCC V28 HCCs (payment year {year + 1}) from the {year} claims")
        if not from_mart:
            notes.append(f"HCCs scored at report time (no member_hccs mart for {year})")
    else:
        notes.append(f"reasons: no HCCs (CMS-HCC V28 covers payment years 2024-2027; asked {year + 1})")
    gaps = None
    if inputs.has("clinical") or inputs.has("open_gaps"):
        start, end = (
            (inputs.run.start, inputs.run.end)
            if year == inputs.run.year
            else (date(year, 1, 1), date(year, 12, 31))
        )
        union, from_mart = gaps_of_year(inputs, people, start, end, with_providers=False)
        gaps = union.group_by(member_id=union.patient_id.cast("string")).aggregate(
            open_gaps=union.measure.group_concat(", ", order_by=union.measure)
        )
        notes.append(f"reasons: open gaps in care {start}..{end} ({', '.join(ECQM_DEFINITIONS)})")
        if not from_mart:
            notes.append(f"open gaps evaluated at report time (no open_gaps mart for {start}..{end})")
    for table in lists:
        out = table
        if hccs is not None:
            out = tidy(out.left_join(hccs, "member_id"))
            out = out.mutate(
                reasons=out.reasons
                + ibis.ifelse(out.hccs.fill_null("") != "", "; HCCs " + out.hccs.fill_null(""), "")
            )
        if gaps is not None:
            out = tidy(out.left_join(gaps, "member_id"))
            out = out.mutate(
                reasons=out.reasons
                + ibis.ifelse(out.open_gaps.notnull(), "; open gaps " + out.open_gaps.fill_null(""), "")
            )
        annotated.append(out.order_by([ibis.desc("predicted_cost"), "member_id"]))
    return annotated[0], annotated[1], notes


@register(
    "prediction",
    "Predictive risk stratification",
    "Next-year cost and admission-risk models trained on the population's history (scikit-learn, seeded) and "
    "validated on a held-out year (R², MAE, AUC, Brier, calibration by decile); high-risk and rising-risk "
    "worklists with their reasons.",
    needs=(
        "attribution",
        "member_detail",
        "enrollment",
        "members",
        "medical_claims",
        "pharmacy_claims",
        "clinical",
        "open_gaps",
        "member_hccs",
        "member_year_features",
    ),
)
def prediction_report(inputs: ReportInputs, request: ReportRequest) -> ReportOutput:
    import numpy as np

    if inputs.fetch is None:
        raise ConfigurationError("prediction: the caller gave no fetch hook (the model is fit in Python)")
    last = inputs.run.year
    years = (last - 2, last - 1, last)
    # the features are fetched once and the pairs built over them; they are read from the run's member_year_features mart (computed now for a run without it)
    features_expr = inputs[MEMBER_FEATURES] if inputs.has(MEMBER_FEATURES) else member_years(inputs)
    # the mart is read in place; features computed now are fetched once (the pairs below read them three times)
    features = features_expr if inputs.has(MEMBER_FEATURES) else ibis.memtable(inputs.fetch(features_expr))
    # rows in member order: the same data give the same model (the training order matters to the boosting's
    # early-stopping split above 10,000 rows)
    pairs = training_pairs(features, years[0])
    population = int(inputs.fetch(pairs.aggregate(n=pairs.count())).column("n")[0].as_py() or 0)
    if population > MAX_TRAINING:
        pairs = stratified_sample(pairs, MAX_TRAINING, population)
    train = inputs.fetch(pairs.order_by("member_id"))
    test = inputs.fetch(training_pairs(features, years[1]).order_by("member_id"))
    current_expr = features.filter(features.year == years[2])
    current = inputs.fetch(current_expr.order_by("member_id"))
    fitted = fit_and_score(train, test, current)
    metrics: list[dict[str, object]] = list(fitted["metrics"])  # type: ignore[call-overload]
    fitted["metrics"] = [
        *metrics,
        {"model": "training", "metric": "members", "value": float(train.num_rows)},
        {"model": "training", "metric": "population", "value": float(population)},
    ]
    sampled = train.num_rows < population
    scores: pa.Table = fitted["scores"]
    predicted = scores.column("predicted_cost").to_numpy(zero_copy_only=False)
    high_cut = float(np.quantile(predicted, 1 - HIGH_RISK_SHARE)) if len(predicted) else 0.0
    rising_cut = float(np.quantile(predicted, 1 - RISING_SHARE)) if len(predicted) else 0.0
    high, rising = worklists(
        ibis.memtable(scores), current_expr, panel(inputs, request), years[2], high_cut, rising_cut
    )
    high, rising, said = annotate(inputs, [high, rising], years[2])
    return ReportOutput(
        tables={
            "validation": ibis.memtable(pa.Table.from_pylist(fitted["metrics"])),
            "calibration": ibis.memtable(pa.Table.from_pylist(fitted["calibration"])),
            "high_risk": high,
            "rising_risk": rising,
            "features": ibis.memtable({"feature": list(FEATURES)}),
        },
        charts={
            "calibration": bar_chart(
                "calibration",
                "decile",
                "predictive_ratio",
                color="model",
                title="predicted / observed by decile",
            )
        },
        notes=[
            f"trained on {years[0]} -> {years[1]}, validated on the held-out {years[1]} -> {years[2]}, scored on "
            f"{years[2]} for {years[2] + 1}; model {MODEL_VERSION}",
            f"high risk: predicted cost at or above the population's {1 - HIGH_RISK_SHARE:.0%} quantile "
            f"({high_cut:,.2f}); rising risk: not high risk, at or above the {1 - RISING_SHARE:.0%} quantile "
            f"({rising_cut:,.2f}) and at least {RISING_FACTOR} x this year's spending",
            (
                f"models fit on a stratified sample of {train.num_rows:,} of the run's {population:,} member-years "
                f"{years[0]} -> {years[1]} (at most {MAX_TRAINING:,} plus one per stratum; strata: admitted next "
                "year x decile of next-year cost; members drawn in a fixed hash order); validated on every member"
                if sampled
                else f"models fit on every member of the run ({population:,} member-years {years[0]} -> {years[1]})"
            ),
            "worklists list the members of the report's scope",
            *(
                []
                if inputs.has(MEMBER_FEATURES)
                else ["features computed at report time (no member_year_features mart)"]
            ),
            *said,
            *scope_note(request),
        ],
    )
