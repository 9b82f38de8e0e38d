"""Vectorized generation of one chunk of members: demographics, coverage, claims and clinical facts.

Every quantity is drawn with numpy for the whole chunk at once (arrays over members, events and lines);
there is no Python loop over members or claims. A chunk's random stream depends only on the seed and
the chunk number, so output is reproducible for a given seed and chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from apmkit.synth import reference as ref

EPOCH = np.datetime64("1970-01-01", "D")
NULL_DATE = np.iinfo(np.int32).min


@dataclass(frozen=True)
class Practices:
    """The provider landscape shared by all chunks (drawn once from the seed)."""

    pcp_npi: np.ndarray
    pcp_tin: np.ndarray
    pcp_specialty: np.ndarray
    pcp_county: np.ndarray
    specialist_npi: np.ndarray
    specialist_tin: np.ndarray
    specialist_specialty: np.ndarray
    hospital_ccn: np.ndarray
    hospital_npi: np.ndarray
    hospital_tin: np.ndarray
    snf_ccn: np.ndarray
    snf_npi: np.ndarray
    hha_ccn: np.ndarray
    hha_npi: np.ndarray
    hospice_ccn: np.ndarray
    hospice_npi: np.ndarray
    dme_npi: np.ndarray
    pharmacy_npi: np.ndarray
    tin_names: dict[str, str]


def npi_with_check_digit(base9: np.ndarray) -> np.ndarray:
    """Valid NPIs: 9 digits plus the Luhn check digit computed with the 80840 prefix (CMS NPI standard)."""
    digits = np.stack([(base9 // 10 ** (8 - i)) % 10 for i in range(9)], axis=1)
    doubled = digits.copy()
    doubled[:, 0::2] *= 2  # from the right of the 9 digits, every second digit starting with the last
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + 24  # the constant 24 accounts for the 80840 prefix
    check = (10 - total % 10) % 10
    return np.char.add(base9.astype("U9"), check.astype("U1"))


def _unique_ids(rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
    values = (
        rng.choice(np.arange(low, high, dtype=np.int64), size=count, replace=False)
        if high - low < 5_000_000
        else None
    )
    if values is None:
        values = np.unique(rng.integers(low, high, size=count * 2))[:count]
        rng.shuffle(values)
    return values


def build_practices(seed: int, members: int) -> Practices:
    rng = np.random.default_rng([seed, 999_999])
    n_pcp = max(20, members // 250)
    n_tin = max(5, n_pcp // 4)
    n_spec = max(20, members // 150)
    n_hosp = max(5, members // 4000)
    npis = npi_with_check_digit(_unique_ids(rng, n_pcp + n_spec + 6 * n_hosp + 20, 100_000_000, 199_999_999))
    tins = _unique_ids(rng, n_tin + n_spec // 5 + n_hosp + 5, 100_000_000, 999_999_999).astype("U9")
    cursor = 0

    def take(k: int) -> np.ndarray:
        nonlocal cursor
        out = npis[cursor : cursor + k]
        cursor += k
        return out

    # Practice sizes are skewed: a few large groups, many small ones.
    pcp_tin_index = np.minimum((rng.pareto(1.2, n_pcp) * n_tin / 8).astype(int), n_tin - 1)
    county_weights = np.array([c.weight for c in ref.COUNTIES])
    tin_county = rng.choice(len(ref.COUNTIES), size=n_tin, p=county_weights / county_weights.sum())
    spec_tins = tins[n_tin : n_tin + max(1, n_spec // 5)]
    ccn = lambda prefix, k: np.char.add(prefix, rng.integers(1000, 9999, size=k).astype("U4"))  # noqa: E731
    hosp_tins = tins[n_tin + max(1, n_spec // 5) : n_tin + max(1, n_spec // 5) + n_hosp]
    names = {t: f"Practice {i + 1:04d}" for i, t in enumerate(tins[:n_tin])}
    names.update({t: f"Specialty Group {i + 1:03d}" for i, t in enumerate(spec_tins)})
    names.update({t: f"Hospital {i + 1:03d}" for i, t in enumerate(hosp_tins)})
    return Practices(
        pcp_npi=take(n_pcp),
        pcp_tin=tins[:n_tin][pcp_tin_index],
        pcp_specialty=rng.choice(ref.PCP_SPECIALTIES, size=n_pcp, p=ref.PCP_SPECIALTY_WEIGHTS),
        pcp_county=tin_county[pcp_tin_index],
        specialist_npi=take(n_spec),
        specialist_tin=spec_tins[rng.integers(0, len(spec_tins), size=n_spec)],
        specialist_specialty=rng.choice(ref.SPECIALIST_SPECIALTIES, size=n_spec),
        hospital_ccn=np.char.add(rng.choice(["14", "45", "33", "22", "10"], n_hosp), ccn("00", n_hosp)),
        hospital_npi=take(n_hosp),
        hospital_tin=hosp_tins,
        snf_ccn=np.char.add("145", rng.integers(100, 999, size=n_hosp).astype("U3")),
        snf_npi=take(n_hosp),
        hha_ccn=np.char.add("147", rng.integers(100, 999, size=n_hosp).astype("U3")),
        hha_npi=take(n_hosp),
        hospice_ccn=np.char.add("141", rng.integers(500, 999, size=n_hosp).astype("U3")),
        hospice_npi=take(n_hosp),
        dme_npi=take(n_hosp),
        pharmacy_npi=take(n_hosp),
        tin_names=names,
    )


def _dates(days: np.ndarray) -> pa.Array:
    mask = days == NULL_DATE
    return pa.array(np.where(mask, 0, days).astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18,2) from integer cents, built from the two 64-bit words of a 128-bit integer."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension
    return pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words.tobytes())])


def _strings(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    # pyarrow converts numpy unicode arrays in C++, ~4x faster than going through Python objects.
    array = pa.array(np.asarray(values), pa.string(), mask=mask)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


@dataclass(frozen=True)
class Cohort:
    """The members of one chunk as parallel arrays (one element per member), drawn once per chunk."""

    ids: np.ndarray
    birth: np.ndarray
    female: np.ndarray
    esrd: np.ndarray
    institutional: np.ndarray
    frailty: np.ndarray
    has: np.ndarray  # members x conditions
    condition_code: np.ndarray  # members x conditions
    county: np.ndarray
    primary_pcp: np.ndarray
    second_pcp: np.ndarray
    switch_month: np.ndarray
    tie: np.ndarray
    death_day: np.ndarray
    entry_year_index: np.ndarray
    ma_month: np.ndarray
    dual_code: np.ndarray
    orec: np.ndarray


@dataclass
class ChunkResult:
    tables: dict[str, dict[str, pa.Array]]


class ChunkGenerator:
    """Generates all tables for members ``first_index .. first_index + count - 1``."""

    def __init__(self, seed: int, practices: Practices, years: list[int]):
        self.seed = seed
        self.practices = practices
        self.years = years

    # ------------------------------------------------------------------------------------------------
    def generate(self, chunk: int, first_index: int, count: int) -> ChunkResult:
        rng = np.random.default_rng([self.seed, chunk])
        p = self.practices
        idx = np.arange(first_index, first_index + count, dtype=np.int64)
        member_ids = np.char.add("M", np.char.zfill(idx.astype("U12"), 9))
        first_year = self.years[0]
        year_start = {y: (np.datetime64(f"{y}-01-01", "D") - EPOCH).astype(int) for y in self.years}

        # ---- demographics -------------------------------------------------------------------------
        disabled = rng.random(count) < 0.13
        esrd = rng.random(count) < 0.009
        age_at_start = np.where(
            disabled,
            rng.integers(25, 65, count),
            np.minimum(65 + rng.gamma(2.0, 5.5, count).astype(int), 104),
        )
        female = rng.random(count) < np.where(disabled, 0.47, 0.55)
        birth = year_start[first_year] - (age_at_start * 365.25).astype(int) - rng.integers(0, 365, count)
        orec = np.where(disabled & esrd, "3", np.where(esrd, "2", np.where(disabled, "1", "0")))
        # Medicare-Medicaid: ~12% full dual, ~6% partial dual, more among the disabled.
        dual_draw = rng.random(count)
        dual_rate = np.where(disabled, 2.2, 1.0)
        dual_code = np.where(
            dual_draw < 0.12 * dual_rate, "02", np.where(dual_draw < 0.18 * dual_rate, "03", "NA")
        ).astype("U2")
        institutional = rng.random(count) < 0.02 + 0.05 * (age_at_start > 85)
        frailty = rng.normal(0, 1, count) + 0.02 * (age_at_start - 75) + 0.5 * disabled + 0.8 * institutional

        county = rng.choice(len(ref.COUNTIES), size=count, p=_county_p())
        death_year_index = np.full(count, -1)
        death_day = np.full(count, NULL_DATE, dtype=np.int64)
        mortality = 1 / (1 + np.exp(-(-3.6 + 0.07 * (age_at_start - 75) + 0.6 * frailty)))
        alive = np.ones(count, bool)
        for year_index, year in enumerate(self.years):  # years, not members: a handful of iterations
            dies = alive & (rng.random(count) < mortality)
            death_year_index[dies] = year_index
            death_day[dies] = year_start[year] + rng.integers(0, 365, dies.sum())
            alive &= ~dies
        # New entrants join in later years; a few leave FFS (to Medicare Advantage) mid-period.
        entry_year_index = np.where(
            rng.random(count) < 0.06 * (len(self.years) - 1), rng.integers(0, len(self.years), count), 0
        )
        switches_to_ma = rng.random(count) < 0.02
        ma_month = np.where(switches_to_ma, rng.integers(0, 12 * len(self.years), count), 10**6)

        # ---- chronic conditions (correlated through frailty) ---------------------------------------
        k = len(ref.CONDITIONS)
        prevalence = np.array([c.prevalence for c in ref.CONDITIONS])
        loading = np.array([c.frailty_loading for c in ref.CONDITIONS])
        logits = np.log(prevalence / (1 - prevalence))[None, :] + loading[None, :] * frailty[:, None] + 0.2
        has = rng.random((count, k)) < 1 / (1 + np.exp(-logits))
        for j, condition in enumerate(ref.CONDITIONS):
            if condition.sex == "F":
                has[:, j] &= female
            elif condition.sex == "M":
                has[:, j] &= ~female
        variant = rng.integers(0, 4, (count, k))
        condition_code = np.empty((count, k), dtype="U8")
        for j, condition in enumerate(ref.CONDITIONS):  # conditions, not members
            codes = np.array(condition.icd10)
            condition_code[:, j] = codes[variant[:, j] % len(codes)]

        # ---- primary care relationships --------------------------------------------------------------
        n_pcp = len(p.pcp_npi)
        pcp_by_county = [np.flatnonzero(p.pcp_county == c) for c in range(len(ref.COUNTIES))]
        pick = rng.random(count)
        primary_pcp = np.array([0], dtype=np.int64).repeat(count)
        for c in range(len(ref.COUNTIES)):  # counties, not members
            in_county = county == c
            pool = pcp_by_county[c] if len(pcp_by_county[c]) else np.arange(n_pcp)
            primary_pcp[in_county] = pool[(pick[in_county] * len(pool)).astype(int)]
        second_pcp = rng.integers(0, n_pcp, count)
        switch_month = np.where(rng.random(count) < 0.08, rng.integers(1, 12 * len(self.years), count), 10**6)
        tie = rng.random(count) < 0.03

        tables: dict[str, dict[str, pa.Array]] = {}
        cohort = Cohort(
            ids=member_ids,
            birth=birth,
            female=female,
            esrd=esrd,
            institutional=institutional,
            frailty=frailty,
            has=has,
            condition_code=condition_code,
            county=county,
            primary_pcp=primary_pcp,
            second_pcp=second_pcp,
            switch_month=switch_month,
            tie=tie,
            death_day=death_day,
            entry_year_index=entry_year_index,
            ma_month=ma_month,
            dual_code=dual_code,
            orec=orec,
        )
        tables["members"] = self._members(cohort)
        tables["enrollment"] = self._enrollment(cohort, year_start)
        claims, pharmacy, clinical = self._utilization(rng, cohort, year_start)
        tables["medical_claims"] = claims
        tables["pharmacy_claims"] = pharmacy
        tables["clinical"] = clinical
        return ChunkResult(tables)

    # ------------------------------------------------------------------------------------------------
    def _members(self, c: Cohort):
        ids, birth, death_day, female, dual_code, orec, esrd, institutional, county = (
            c.ids,
            c.birth,
            c.death_day,
            c.female,
            c.dual_code,
            c.orec,
            c.esrd,
            c.institutional,
            c.county,
        )
        counties = ref.COUNTIES
        return {
            "member_id": _strings(ids),
            "birth_date": _dates(birth),
            "death_date": _dates(death_day),
            "sex": _strings(np.where(female, "F", "M")),
            "zip_code": _strings(np.array([c.zip_code for c in counties])[county]),
            "state_code": _strings(np.array([c.state for c in counties])[county]),
            "county_fips": _strings(np.array([c.fips for c in counties])[county]),
            "ssa_county_code": _strings(np.array([c.ssa for c in counties])[county]),
            "dual_status_code": _strings(dual_code),
            "orec": _strings(orec),
            "crec": _strings(orec),
            "esrd": pa.array(esrd),
            "institutional": pa.array(institutional),
            "medicaid": pa.array(dual_code != "NA"),
        }

    def _enrollment(self, c: Cohort, year_start):
        ids, death_day, entry_year_index, ma_month = c.ids, c.death_day, c.entry_year_index, c.ma_month
        dual_code, esrd, institutional = c.dual_code, c.esrd, c.institutional
        n_months = 12 * len(self.years)
        count = len(ids)
        month_index = np.tile(np.arange(n_months), count)
        member = np.repeat(np.arange(count), n_months)
        year_index = month_index // 12
        month_start = np.array(
            [
                (np.datetime64(f"{self.years[m // 12]}-{m % 12 + 1:02d}-01", "D") - EPOCH).astype(int)
                for m in range(n_months)
            ]
        )[month_index]
        covered = year_index >= entry_year_index[member]
        died = death_day[member] != NULL_DATE
        covered &= ~(died & (month_start > death_day[member]))
        keep = covered
        member, month_index, month_start = member[keep], month_index[keep], month_start[keep]
        in_ma = month_index >= ma_month[member]
        n = member.size
        return {
            "member_id": _strings(ids[member]),
            "month": _dates(month_start),
            "payer": _strings(np.full(n, "Medicare")),
            "product": _strings(np.where(in_ma, "Medicare Advantage", "Original Medicare")),
            "line_of_business": _strings(np.where(in_ma, "medicare_advantage", "medicare_ffs")),
            "part_a": pa.array(np.ones(n, bool)),
            "part_b": pa.array(np.ones(n, bool)),
            "part_d": pa.array(np.ones(n, bool)),
            "medicare_advantage": pa.array(in_ma),
            "dual_status_code": _strings(dual_code[member]),
            "esrd": pa.array(esrd[member]),
            "institutional": pa.array(institutional[member]),
            "hospice": pa.array(np.zeros(n, bool)),
        }

    # ------------------------------------------------------------------------------------------------
    def _utilization(self, rng, c: Cohort, year_start):
        ids, birth, female, esrd, frailty, has, condition_code, county = (
            c.ids,
            c.birth,
            c.female,
            c.esrd,
            c.frailty,
            c.has,
            c.condition_code,
            c.county,
        )
        primary_pcp, second_pcp, switch_month, tie = c.primary_pcp, c.second_pcp, c.switch_month, c.tie
        death_day, entry_year_index, ma_month = c.death_day, c.entry_year_index, c.ma_month
        p = self.practices
        count = len(ids)
        n_cond = has.sum(axis=1)
        lines = _LineBuilder()
        rx = _RxBuilder()
        clin = _ClinicalBuilder()
        for year_index, year in enumerate(self.years):  # a few years, each vectorized over members
            start = year_start[year]
            end = start + (366 if year % 4 == 0 else 365)
            first_ffs_month = np.maximum(0, entry_year_index - year_index) * 12
            ffs_months = np.clip(np.minimum(ma_month - 12 * year_index, 12), 0, 12)
            active_until = np.where(death_day != NULL_DATE, np.minimum(death_day, end), end)
            exposure_days = np.clip(
                np.minimum(active_until, start + (ffs_months * 30.4).astype(int))
                - (start + first_ffs_month * 30.4).astype(int),
                0,
                None,
            )
            exposure = exposure_days / 365.0
            eligible = exposure > 0
            age = (start - birth) / 365.25

            def when(
                member: np.ndarray, start=start, first=first_ffs_month, days=exposure_days
            ) -> np.ndarray:
                """A uniformly random day within each member's covered part of the year."""
                lo = start + (first[member] * 30.4).astype(int)
                return lo + (rng.random(member.size) * np.maximum(days[member], 1)).astype(int)

            # Office visits with the member's primary care clinician (ties and switches included).
            pcp_visits = rng.poisson(np.where(eligible, (2.4 + 0.8 * n_cond) * exposure, 0))
            m = np.repeat(np.arange(count), pcp_visits)
            day = when(m)
            month_abs = year_index * 12 + (day - start) // 31
            use_second = (month_abs >= switch_month[m]) | (tie[m] & (rng.random(m.size) < 0.5))
            pcp = np.where(use_second, second_pcp[m], primary_pcp[m])
            visit = rng.choice(len(ref.OFFICE_VISITS), size=m.size, p=ref.OFFICE_VISIT_WEIGHTS)
            codes = np.array([c for c, _ in ref.OFFICE_VISITS])[visit]
            cents = np.array([a for _, a in ref.OFFICE_VISITS])[visit]
            lines.professional(
                rng,
                ids[m],
                m,
                day,
                codes,
                cents,
                p.pcp_npi[pcp],
                p.pcp_specialty[pcp],
                p.pcp_tin[pcp],
                has,
                condition_code,
                add_ons=ref.VISIT_ADD_ONS,
            )
            clin.encounters(ids[m], day, codes, p.pcp_npi[pcp])
            # Blood pressure at office visits of hypertensive members; HbA1c tests for diabetics.
            htn = has[m, ref.CONDITION_INDEX["hypertension"]]
            clin.blood_pressure(rng, ids[m][htn], day[htn], frailty[m][htn])
            # Annual wellness visit (about half of members), and the screenings done there.
            awv = eligible & (rng.random(count) < 0.5)
            ma = np.flatnonzero(awv)
            awv_day = when(ma)
            awv_kind = (rng.random(ma.size) < 0.3).astype(int)
            lines.professional(
                rng,
                ids[ma],
                ma,
                awv_day,
                np.array([c for c, _ in ref.AWV])[awv_kind],
                np.array([a for _, a in ref.AWV])[awv_kind],
                p.pcp_npi[primary_pcp[ma]],
                p.pcp_specialty[primary_pcp[ma]],
                p.pcp_tin[primary_pcp[ma]],
                has,
                condition_code,
                preventive=True,
            )
            clin.encounters(
                ids[ma], awv_day, np.array([c for c, _ in ref.AWV])[awv_kind], p.pcp_npi[primary_pcp[ma]]
            )
            screened = rng.random(ma.size) < 0.75
            clin.depression_screen(rng, ids[ma][screened], awv_day[screened])
            diab = np.flatnonzero(eligible & has[:, ref.CONDITION_INDEX["diabetes"]])
            a1c_count = rng.poisson(np.where(rng.random(diab.size) < 0.15, 0, 2.0), diab.size)
            md = np.repeat(diab, a1c_count)
            a1c_day = when(md)
            lab = np.full(md.size, "83036")
            lines.professional(
                rng,
                ids[md],
                md,
                a1c_day,
                lab,
                np.full(md.size, 1300),
                p.pcp_npi[primary_pcp[md]],
                p.pcp_specialty[primary_pcp[md]],
                p.pcp_tin[primary_pcp[md]],
                has,
                condition_code,
                place="81",
            )
            clin.hba1c(rng, ids[md], a1c_day, frailty[md])
            # Breast and colorectal cancer screening.
            mammo = np.flatnonzero(eligible & female & (age >= 50) & (age < 75) & (rng.random(count) < 0.55))
            mammo_day = when(mammo)
            lines.professional(
                rng,
                ids[mammo],
                mammo,
                mammo_day,
                np.full(mammo.size, "77067"),
                np.full(mammo.size, 14000),
                p.specialist_npi[mammo % len(p.specialist_npi)],
                np.full(mammo.size, "30"),
                p.specialist_tin[mammo % len(p.specialist_tin)],
                has,
                condition_code,
                preventive=True,
            )
            clin.mammogram(ids[mammo], mammo_day)
            colo = np.flatnonzero(eligible & (age >= 45) & (age < 76) & (rng.random(count) < 0.09))
            colo_day = when(colo)
            lines.professional(
                rng,
                ids[colo],
                colo,
                colo_day,
                np.full(colo.size, "45378"),
                np.full(colo.size, 38000),
                p.specialist_npi[colo % len(p.specialist_npi)],
                np.full(colo.size, "10"),
                p.specialist_tin[colo % len(p.specialist_tin)],
                has,
                condition_code,
                preventive=True,
            )
            clin.procedure(ids[colo], colo_day, ref.SYSTEM_CPT, "45378")

            # Specialist visits, matched to a condition the member has when possible.
            spec_visits = rng.poisson(np.where(eligible, (1.2 + 1.3 * n_cond) * exposure, 0))
            ms = np.repeat(np.arange(count), spec_visits)
            sday = when(ms)
            spec = rng.integers(0, len(p.specialist_npi), ms.size)
            visit = rng.choice(len(ref.OFFICE_VISITS), size=ms.size, p=ref.OFFICE_VISIT_WEIGHTS)
            lines.professional(
                rng,
                ids[ms],
                ms,
                sday,
                np.array([c for c, _ in ref.OFFICE_VISITS])[visit],
                (np.array([a for _, a in ref.OFFICE_VISITS])[visit] * 1.15).astype(np.int64),
                p.specialist_npi[spec],
                p.specialist_specialty[spec],
                p.specialist_tin[spec],
                has,
                condition_code,
                add_ons=(("93306", 21_000, 0.12), ("71046", 3_000, 0.10), ("20610", 8_000, 0.08)),
            )

            # Hospital admissions: heavy-tailed through frailty and condition burden.
            burden = has @ np.array([c.utilization for c in ref.CONDITIONS])
            admit_rate = 0.15 * np.exp(0.55 * frailty + burden) * exposure
            admissions = rng.poisson(np.where(eligible, admit_rate, 0))
            mi = np.repeat(np.arange(count), admissions)
            iday = when(mi)
            drg_p = np.array([d.rate for d in ref.DRGS])
            drg = rng.choice(len(ref.DRGS), size=mi.size, p=drg_p / drg_p.sum())
            hosp = (county[mi] * 7 + rng.integers(0, 3, mi.size)) % len(p.hospital_ccn)
            los = np.maximum(1, rng.poisson(np.array([d.los for d in ref.DRGS])[drg]))
            attending = rng.integers(0, len(p.specialist_npi), mi.size)
            lines.inpatient(rng, ids[mi], mi, iday, los, drg, hosp, attending, p, has, condition_code)
            # Post-acute care after some discharges.
            to_snf = rng.random(mi.size) < 0.22
            ms2 = mi[to_snf]
            snf_days = np.maximum(3, rng.poisson(22, ms2.size))
            lines.facility_stay(
                rng,
                "snf",
                ids[ms2],
                ms2,
                iday[to_snf] + los[to_snf],
                snf_days,
                ref.SNF_DAY,
                p.snf_ccn,
                p.snf_npi,
                hosp[to_snf],
                has,
                condition_code,
                "21",
            )
            to_hha = ~to_snf & (rng.random(mi.size) < 0.30)
            mh = mi[to_hha]
            lines.facility_stay(
                rng,
                "hha",
                ids[mh],
                mh,
                iday[to_hha] + los[to_hha] + 1,
                np.full(mh.size, 30),
                ref.HHA_EPISODE,
                p.hha_ccn,
                p.hha_npi,
                hosp[to_hha],
                has,
                condition_code,
                "32",
                per_episode=True,
            )
            # Community home health for frail members without a hospital stay.
            community = np.flatnonzero(eligible & (frailty > 1.2) & (rng.random(count) < 0.25))
            episodes = rng.integers(1, 4, community.size)
            mhc = np.repeat(community, episodes)
            lines.facility_stay(
                rng,
                "hha",
                ids[mhc],
                mhc,
                when(mhc),
                np.full(mhc.size, 30),
                ref.HHA_EPISODE,
                p.hha_ccn,
                p.hha_npi,
                county[mhc],
                has,
                condition_code,
                "32",
                per_episode=True,
            )
            # Transitional care visit after some discharges.
            tcm = rng.random(mi.size) < 0.25
            mt = mi[tcm]
            kind = (rng.random(mt.size) < 0.4).astype(int)
            lines.professional(
                rng,
                ids[mt],
                mt,
                iday[tcm] + los[tcm] + 7,
                np.array([c for c, _ in ref.TRANSITIONAL_CARE])[kind],
                np.array([a for _, a in ref.TRANSITIONAL_CARE])[kind],
                p.pcp_npi[primary_pcp[mt]],
                p.pcp_specialty[primary_pcp[mt]],
                p.pcp_tin[primary_pcp[mt]],
                has,
                condition_code,
            )
            # Hospice for about half of those who die this year.
            dying = (
                (death_day != NULL_DATE)
                & (death_day >= start)
                & (death_day < end)
                & (rng.random(count) < 0.48)
            )
            mh2 = np.flatnonzero(dying)
            # Hospice stays are skewed: many short, some of several months.
            hospice_days = np.maximum(
                2, rng.geometric(np.where(rng.random(mh2.size) < 0.45, 1 / 150, 1 / 15))
            )
            lines.facility_stay(
                rng,
                "hospice",
                ids[mh2],
                mh2,
                np.maximum(start, death_day[mh2] - hospice_days),
                np.minimum(hospice_days, death_day[mh2] - start + 1),
                ref.HOSPICE_DAY,
                p.hospice_ccn,
                p.hospice_npi,
                mh2 % len(p.hospice_ccn),
                has,
                condition_code,
                "81",  # NUBC type of bill 81x: hospice (non-hospital based)
            )

            # Outpatient: emergency visits and hospital outpatient tests.
            er = rng.poisson(np.where(eligible, 0.35 * np.exp(0.35 * frailty) * exposure, 0))
            me = np.repeat(np.arange(count), er)
            lines.outpatient(rng, ids[me], me, when(me), ref.ED_VISIT, p, county, has, condition_code)
            op = rng.poisson(np.where(eligible, 2.0 * exposure * (1 + 0.25 * n_cond), 0))
            mo = np.repeat(np.arange(count), op)
            lines.outpatient(rng, ids[mo], mo, when(mo), ref.OUTPATIENT_LINES, p, county, has, condition_code)
            # Physical therapy courses, dialysis for ESRD, chemotherapy for cancers in active treatment.
            pt = np.flatnonzero(eligible & (rng.random(count) < 0.09))
            sessions = rng.integers(6, 16, pt.size)
            mp = np.repeat(pt, sessions)
            therapy = rng.integers(0, len(ref.PHYSICAL_THERAPY), mp.size)
            lines.professional(
                rng,
                ids[mp],
                mp,
                when(mp),
                np.array([c for c, _ in ref.PHYSICAL_THERAPY])[therapy],
                np.array([a for _, a in ref.PHYSICAL_THERAPY])[therapy],
                p.specialist_npi[mp % len(p.specialist_npi)],
                np.full(mp.size, "65"),
                p.specialist_tin[mp % len(p.specialist_tin)],
                has,
                condition_code,
                add_ons=((ref.PHYSICAL_THERAPY[1][0], ref.PHYSICAL_THERAPY[1][1], 0.6),),
            )
            dialysis = np.flatnonzero(eligible & esrd)
            months = np.maximum(1, (exposure[dialysis] * 12).astype(int))
            mdl = np.repeat(dialysis, months)
            month_day = (
                start + np.concatenate([np.arange(k) for k in months]) * 30
                if months.size
                else np.zeros(0, int)
            )
            lines.professional(
                rng,
                ids[mdl],
                mdl,
                month_day,
                np.full(mdl.size, ref.DIALYSIS_MONTH[0][0]),
                np.full(mdl.size, ref.DIALYSIS_MONTH[0][1]),
                p.specialist_npi[mdl % len(p.specialist_npi)],
                np.full(mdl.size, "39"),
                p.specialist_tin[mdl % len(p.specialist_tin)],
                has,
                condition_code,
            )
            lines.outpatient(
                rng, ids[mdl], mdl, month_day, (ref.DIALYSIS_MONTH[1],), p, county, has, condition_code
            )
            cancer_columns = [
                ref.CONDITION_INDEX[c] for c in ("breast_cancer", "prostate_cancer", "lung_cancer")
            ]
            active = np.flatnonzero(eligible & has[:, cancer_columns].any(axis=1) & (rng.random(count) < 0.2))
            doses = rng.integers(3, 12, active.size)
            mch = np.repeat(active, doses)
            lines.professional(
                rng,
                ids[mch],
                mch,
                when(mch),
                np.full(mch.size, ref.CHEMOTHERAPY[1][0]),
                np.full(mch.size, ref.CHEMOTHERAPY[1][1]),
                p.specialist_npi[mch % len(p.specialist_npi)],
                np.full(mch.size, "90"),
                p.specialist_tin[mch % len(p.specialist_tin)],
                has,
                condition_code,
                add_ons=((ref.CHEMOTHERAPY[0][0], ref.CHEMOTHERAPY[0][1], 1.0),),
                place="11",
            )
            # Durable medical equipment.
            dme = rng.poisson(np.where(eligible, 0.12 * (1 + n_cond * 0.3) * exposure, 0))
            md2 = np.repeat(np.arange(count), dme)
            lines.dme(rng, ids[md2], md2, when(md2), p, has, condition_code)

            # Part D: monthly fills for each chronic drug.
            for j, condition in enumerate(ref.CONDITIONS):  # conditions, not members
                if condition.drug is None:
                    continue
                takers = np.flatnonzero(eligible & has[:, j] & (rng.random(count) < 0.8))
                fills = np.minimum(12, np.maximum(1, (exposure[takers] * 12).astype(int)))
                mr = np.repeat(takers, fills)
                fill_month = np.concatenate([np.arange(f) for f in fills]) if fills.size else np.zeros(0, int)
                rx.fills(
                    rng,
                    ids[mr],
                    start + fill_month * 30 + rng.integers(0, 5, mr.size),
                    ref.DRUGS[condition.drug],
                    p.pcp_npi[primary_pcp[mr]],
                    p.pharmacy_npi[county[mr] % len(p.pharmacy_npi)],
                )

            # Clinical problem list: one Condition record per chronic condition per member-year.
            mc, jc = np.nonzero(has & eligible[:, None])
            clin.conditions(ids[mc], np.full(mc.size, start), condition_code[mc, jc])

        return lines.to_arrays(), rx.to_arrays(), clin.to_arrays()


def _county_p() -> np.ndarray:
    w = np.array([c.weight for c in ref.COUNTIES])
    return w / w.sum()


class _LineBuilder:
    """Accumulates claim lines as column arrays; claims and lines are numbered as they are added."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.claim_counter = 0

    def _claim_ids(self, n: int, prefix: str) -> np.ndarray:
        ids = np.arange(self.claim_counter, self.claim_counter + n)
        self.claim_counter += n
        return ids

    @staticmethod
    def _diagnoses(rng, member: np.ndarray, has, condition_code, principal: np.ndarray | None, k: int = 4):
        """Up to ``k`` of each member's chronic conditions (random order) behind an optional principal dx."""
        keys = rng.random((member.size, has.shape[1]))
        keys[~has[member]] = -1.0
        order = np.argsort(-keys, axis=1)[:, :k]
        chosen = np.take_along_axis(condition_code[member], order, axis=1)
        present = np.take_along_axis(keys, order, axis=1) >= 0
        chosen = np.where(present, chosen, "")
        if principal is None:
            acute = np.array(ref.ACUTE_DX)[rng.integers(0, len(ref.ACUTE_DX), member.size)]
            principal = np.where(present[:, 0], chosen[:, 0], acute)
            chosen = np.where(
                present[:, :1], np.concatenate([chosen[:, 1:], np.full((member.size, 1), "")], 1), chosen
            )
        return np.concatenate([principal[:, None], chosen], axis=1)

    def _add(self, **cols: np.ndarray) -> None:
        self.parts.append(cols)

    def professional(
        self,
        rng,
        ids,
        member,
        day,
        hcpcs,
        cents,
        npi,
        specialty,
        tin,
        has,
        condition_code,
        place: str = "11",
        preventive: bool = False,
        add_ons=(),
    ) -> None:
        """One claim per service; ``add_ons`` (code, cents, probability) add further lines to some claims."""
        n = member.size
        if n == 0:
            return
        claim = self._claim_ids(n, "P")
        dx = self._diagnoses(rng, member, has, condition_code, np.full(n, "Z0000") if preventive else None)
        line = np.ones(n, np.int32)
        numbers = np.ones(n, np.int32)
        rows = np.arange(n)
        codes = np.asarray(hcpcs)
        amounts = np.asarray(cents)
        for code, add_cents, probability in add_ons:
            chosen = np.flatnonzero(rng.random(n) < probability)
            line[chosen] += 1
            rows = np.concatenate([rows, chosen])
            codes = np.concatenate([codes, np.full(chosen.size, code)])
            amounts = np.concatenate([amounts, np.full(chosen.size, add_cents)])
            numbers = np.concatenate([numbers, line[chosen]])
        k = rows.size
        allowed = (amounts * rng.lognormal(0, 0.08, k)).astype(np.int64)
        self._add(
            claim=claim[rows],
            line=numbers,
            kind=np.full(k, "professional"),
            member=ids[rows],
            start=day[rows],
            end=day[rows],
            hcpcs=codes,
            rev=np.full(k, ""),
            allowed=allowed,
            paid=(allowed * 0.8).astype(np.int64),
            units=np.ones(k),
            npi=npi[rows],
            specialty=specialty[rows],
            tin=tin[rows],
            ccn=np.full(k, ""),
            pos=np.full(k, place),
            bill=np.full(k, ""),
            drg=np.full(k, ""),
            dx=dx[rows],
            attending=np.full(k, ""),
            discharge=np.full(k, ""),
        )

    def inpatient(self, rng, ids, member, day, los, drg, hosp, attending, p, has, condition_code) -> None:
        n = member.size
        if n == 0:
            return
        claim = self._claim_ids(n, "I")
        weight = np.array([d.weight for d in ref.DRGS])[drg]
        payment = (ref.IPPS_BASE_CENTS * weight * rng.lognormal(0, 0.25, n)).astype(np.int64)
        # Outliers: a small share of stays cost several times the DRG payment.
        outlier = rng.random(n) < 0.015
        payment = np.where(outlier, payment * rng.uniform(2.5, 6.0, n), payment).astype(np.int64)
        principal = np.array([d.principal_dx for d in ref.DRGS])[drg]
        dx = self._diagnoses(rng, member, has, condition_code, principal)
        # Lines: room and board, pharmacy, laboratory; the payment sits on the first line.
        revenue = np.array(["0120", "0250", "0300"])
        shares = np.array([0.7, 0.2, 0.1])
        for li in range(3):
            part = (
                (payment * shares[li]).astype(np.int64) if li else payment - (payment * 0.3).astype(np.int64)
            )
            self._add(
                claim=claim,
                line=np.full(n, li + 1, np.int32),
                kind=np.full(n, "inpatient"),
                member=ids,
                start=day,
                end=day + los,
                hcpcs=np.full(n, ""),
                rev=np.full(n, revenue[li]),
                allowed=part,
                paid=(part * 0.92).astype(np.int64),
                units=np.where(li == 0, los, 1).astype(float),
                npi=p.hospital_npi[hosp],
                specialty=np.full(n, ""),
                tin=p.hospital_tin[hosp],
                ccn=p.hospital_ccn[hosp],
                pos=np.full(n, ""),
                bill=np.full(n, "111"),
                drg=np.array([d.code for d in ref.DRGS])[drg],
                dx=dx,
                attending=p.specialist_npi[attending],
                discharge=np.full(n, "01"),
            )

    def facility_stay(
        self,
        rng,
        kind,
        ids,
        member,
        day,
        days,
        rate,
        ccns,
        npis,
        facility,
        has,
        condition_code,
        bill_prefix,
        per_episode: bool = False,
    ) -> None:
        n = member.size
        if n == 0:
            return
        claim = self._claim_ids(n, kind[0].upper())
        code, cents = rate
        allowed = (cents * (1 if per_episode else days) * rng.lognormal(0, 0.2, n)).astype(np.int64)
        f = facility % len(ccns)
        dx = self._diagnoses(rng, member, has, condition_code, None)
        self._add(
            claim=claim,
            line=np.ones(n, np.int32),
            kind=np.full(n, kind),
            member=ids,
            start=day,
            end=day + days,
            hcpcs=np.full(n, ""),
            rev=np.full(n, code),
            allowed=allowed,
            paid=(allowed * 0.95).astype(np.int64),
            units=days.astype(float),
            npi=npis[f],
            specialty=np.full(n, ""),
            tin=np.full(n, ""),
            ccn=ccns[f],
            pos=np.full(n, ""),
            bill=np.full(n, f"{bill_prefix}1"),
            drg=np.full(n, ""),
            dx=dx,
            attending=np.full(n, ""),
            discharge=np.full(n, "01"),
        )

    def outpatient(self, rng, ids, member, day, menu, p, county, has, condition_code) -> None:
        """Hospital outpatient claims of one to three revenue-center lines drawn from ``menu``."""
        n = member.size
        if n == 0:
            return
        claim = self._claim_ids(n, "O")
        n_lines = 1 + rng.binomial(2, 0.5 if len(menu) > 1 else 0.0, n)
        rows = np.repeat(np.arange(n), n_lines)
        numbers = (np.arange(rows.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1).astype(
            np.int32
        )
        pick = rng.integers(0, len(menu), rows.size)
        k = rows.size
        rev = np.array([r for r, _, _ in menu])[pick]
        hcpcs = np.array([h for _, h, _ in menu])[pick]
        cents = np.array([c for _, _, c in menu])[pick]
        allowed = (cents * rng.lognormal(0, 0.3, k)).astype(np.int64)
        hosp = ((county[member] * 7) % len(p.hospital_ccn))[rows]
        dx = self._diagnoses(rng, member, has, condition_code, None)[rows]
        self._add(
            claim=claim[rows],
            line=numbers,
            kind=np.full(k, "outpatient"),
            member=ids[rows],
            start=day[rows],
            end=day[rows],
            hcpcs=hcpcs,
            rev=rev,
            allowed=allowed,
            paid=(allowed * 0.8).astype(np.int64),
            units=np.ones(k),
            npi=p.hospital_npi[hosp],
            specialty=np.full(k, ""),
            tin=p.hospital_tin[hosp],
            ccn=p.hospital_ccn[hosp],
            pos=np.full(k, ""),
            bill=np.full(k, "131"),
            drg=np.full(k, ""),
            dx=dx,
            attending=np.full(k, ""),
            discharge=np.full(k, ""),
        )

    def dme(self, rng, ids, member, day, p, has, condition_code) -> None:
        n = member.size
        if n == 0:
            return
        claim = self._claim_ids(n, "D")
        pick = rng.integers(0, len(ref.DME_ITEMS), n)
        allowed = (np.array([c for _, c in ref.DME_ITEMS])[pick] * rng.lognormal(0, 0.15, n)).astype(np.int64)
        supplier = member % len(p.dme_npi)
        dx = self._diagnoses(rng, member, has, condition_code, None)
        self._add(
            claim=claim,
            line=np.ones(n, np.int32),
            kind=np.full(n, "dme"),
            member=ids,
            start=day,
            end=day,
            hcpcs=np.array([c for c, _ in ref.DME_ITEMS])[pick],
            rev=np.full(n, ""),
            allowed=allowed,
            paid=(allowed * 0.8).astype(np.int64),
            units=np.ones(n),
            npi=p.dme_npi[supplier],
            specialty=np.full(n, "A5"),
            tin=np.full(n, ""),
            ccn=np.full(n, ""),
            pos=np.full(n, "12"),
            bill=np.full(n, ""),
            drg=np.full(n, ""),
            dx=dx,
            attending=np.full(n, ""),
            discharge=np.full(n, ""),
        )

    def to_arrays(self) -> dict[str, pa.Array]:
        if not self.parts:
            return {}
        col = {k: np.concatenate([part[k] for part in self.parts]) for k in self.parts[0]}
        kind = col["kind"]
        prefix = np.select(
            [
                kind == "professional",
                kind == "inpatient",
                kind == "outpatient",
                kind == "snf",
                kind == "hha",
                kind == "hospice",
            ],
            ["P", "I", "O", "S", "H", "Q"],
            "D",
        )
        member_number = np.char.lstrip(col["member"].astype("U12"), "M")
        claim_ids = np.char.add(
            np.char.add(prefix, member_number), np.char.zfill(col["claim"].astype("U9"), 6)
        )
        n = kind.size
        blank = lambda a: a == ""  # noqa: E731
        out: dict[str, pa.Array] = {
            "claim_id": _strings(claim_ids),
            "claim_line_number": pa.array(col["line"], pa.int32()),
            "claim_type": _strings(kind),
            "member_id": _strings(col["member"]),
            "payer": _strings(np.full(n, "Medicare")),
            "line_of_business": _strings(np.full(n, "medicare_ffs")),
            "claim_from_date": _dates(col["start"]),
            "claim_thru_date": _dates(col["end"]),
            "service_date": _dates(col["start"]),
            "service_end_date": _dates(col["end"]),
            "admission_date": _dates(np.where(kind == "inpatient", col["start"], NULL_DATE)),
            "discharge_date": _dates(np.where(kind == "inpatient", col["end"], NULL_DATE)),
            "rendering_npi": _strings(col["npi"]),
            "rendering_specialty": _strings(col["specialty"], blank(col["specialty"])),
            "billing_npi": _strings(col["npi"]),
            "billing_tin": _strings(col["tin"], blank(col["tin"])),
            "attending_npi": _strings(col["attending"], blank(col["attending"])),
            "facility_ccn": _strings(col["ccn"], blank(col["ccn"])),
            "place_of_service": _strings(col["pos"], blank(col["pos"])),
            "bill_type": _strings(col["bill"], blank(col["bill"])),
            "discharge_status": _strings(col["discharge"], blank(col["discharge"])),
            "revenue_code": _strings(col["rev"], blank(col["rev"])),
            "hcpcs_code": _strings(col["hcpcs"], blank(col["hcpcs"])),
            "ms_drg": _strings(col["drg"], blank(col["drg"])),
            "units": pa.array(col["units"]).cast(pa.decimal128(12, 3)),
            "charge_amount": money(col["allowed"] * 3),
            "allowed_amount": money(col["allowed"]),
            "paid_amount": money(col["paid"]),
            "adjustment_type": _strings(np.full(n, "original")),
            "processed_date": _dates(col["end"] + 14),
        }
        dx = col["dx"]
        for i in range(dx.shape[1]):
            out[f"dx_{i + 1}"] = _strings(dx[:, i], blank(dx[:, i]))
        return out


class _RxBuilder:
    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def fills(self, rng, ids, day, drug: ref.Drug, prescriber, pharmacy) -> None:
        n = ids.size
        if n:
            cents = (drug.monthly_cents * rng.lognormal(0, 0.05, n)).astype(np.int64)
            self.parts.append(
                dict(
                    member=ids,
                    day=day,
                    ndc=np.full(n, drug.ndc),
                    brand_generic=np.full(n, "generic" if drug.generic else "brand"),
                    cents=cents,
                    prescriber=prescriber,
                    pharmacy=pharmacy,
                )
            )

    def to_arrays(self) -> dict[str, pa.Array]:
        if not self.parts:
            return {}
        col = {k: np.concatenate([part[k] for part in self.parts]) for k in self.parts[0]}
        n = col["member"].size
        order = np.arange(n)
        member_number = np.char.lstrip(col["member"].astype("U12"), "M")
        return {
            "claim_id": _strings(
                np.char.add(np.char.add("R", member_number), np.char.zfill(order.astype("U9"), 7))
            ),
            "claim_line_number": pa.array(np.ones(n, np.int32)),
            "member_id": _strings(col["member"]),
            "payer": _strings(np.full(n, "Medicare")),
            "line_of_business": _strings(np.full(n, "medicare_part_d")),
            "dispensing_date": _dates(col["day"]),
            "ndc": _strings(col["ndc"]),
            "quantity": pa.array(np.full(n, 30.0)).cast(pa.decimal128(12, 3)),
            "days_supply": pa.array(np.full(n, 30, np.int32)),
            "prescriber_npi": _strings(col["prescriber"]),
            "pharmacy_npi": _strings(col["pharmacy"]),
            "allowed_amount": money(col["cents"]),
            "paid_amount": money((col["cents"] * 0.75).astype(np.int64)),
            "brand_generic": _strings(col["brand_generic"]),
            "adjustment_type": _strings(np.full(n, "original")),
            "processed_date": _dates(col["day"] + 3),
        }


class _ClinicalBuilder:
    """Clinical facts in the long form of the ``clinical`` table."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def _add(
        self,
        rtype,
        ids,
        day,
        system,
        code,
        *,
        status="final",
        category="",
        component_system="",
        component_code="",
        value=None,
        unit="",
        npi=None,
        resource_index=None,
        value_system="",
        value_code="",
    ) -> None:
        n = ids.size
        if n == 0:
            return
        self.parts.append(
            dict(
                rtype=np.full(n, rtype),
                member=ids,
                day=np.asarray(day),
                system=np.full(n, system),
                code=np.broadcast_to(code, (n,)).astype("U16"),
                status=np.full(n, status),
                category=np.full(n, category),
                csys=np.full(n, component_system),
                ccode=np.broadcast_to(component_code, (n,)).astype("U16"),
                value=np.full(n, np.nan) if value is None else value.astype(float),
                unit=np.full(n, unit),
                npi=np.full(n, "") if npi is None else npi,
                vsys=np.full(n, value_system),
                vcode=np.broadcast_to(value_code, (n,)).astype("U24"),
                component=np.zeros(n, np.int32) if resource_index is None else resource_index,
            )
        )

    def encounters(self, ids, day, codes, npi) -> None:
        # Level II HCPCS codes (G0438/G0439) belong to the HCPCS system, CPT codes to CPT.
        for is_hcpcs, system in ((False, ref.SYSTEM_CPT), (True, ref.SYSTEM_HCPCS)):
            chosen = np.char.startswith(codes.astype(str), "G") == is_hcpcs
            self._add(
                "Encounter",
                ids[chosen],
                day[chosen],
                system,
                codes[chosen],
                status="finished",
                npi=npi[chosen],
            )

    def blood_pressure(self, rng, ids, day, frailty) -> None:
        systolic = np.round(rng.normal(134 + 4 * frailty, 14)).clip(90, 210)
        diastolic = np.round(rng.normal(78, 9, ids.size)).clip(50, 120)
        # One panel resource per reading, its two component rows adjacent (they share a record id).
        self._add(
            "Observation",
            np.repeat(ids, 2),
            np.repeat(day, 2),
            ref.SYSTEM_LOINC,
            ref.LOINC_BP_PANEL,
            category="vital-signs",
            component_system=ref.SYSTEM_LOINC,
            component_code=np.tile([ref.LOINC_SYSTOLIC, ref.LOINC_DIASTOLIC], ids.size),
            value=np.stack([systolic, diastolic], axis=1).ravel(),
            unit="mm[Hg]",
            resource_index=np.tile(np.array([1, 2], np.int32), ids.size),
        )

    def hba1c(self, rng, ids, day, frailty) -> None:
        values = np.round(rng.lognormal(np.log(7.2) + 0.04 * frailty, 0.16), 1)
        self._add(
            "Observation",
            ids,
            day,
            ref.SYSTEM_LOINC,
            ref.LOINC_HBA1C,
            category="laboratory",
            value=values,
            unit="%",
        )

    def depression_screen(self, rng, ids, day) -> None:
        """Adult depression screening (LOINC 73832-8) with a SNOMED negative/positive result."""
        positive = rng.random(ids.size) < 0.12
        result = np.where(
            positive, ref.SNOMED_DEPRESSION_SCREEN_POSITIVE, ref.SNOMED_DEPRESSION_SCREEN_NEGATIVE
        )
        self._add(
            "Observation",
            ids,
            day,
            ref.SYSTEM_LOINC,
            ref.LOINC_ADULT_DEPRESSION_SCREENING,
            category="survey",
            value_system=ref.SYSTEM_SNOMED,
            value_code=result,
        )

    def mammogram(self, ids, day) -> None:
        self._add("Observation", ids, day, ref.SYSTEM_LOINC, ref.LOINC_MAMMOGRAPHY, category="imaging")

    def procedure(self, ids, day, system, code) -> None:
        self._add("Procedure", ids, day, system, code, status="completed")

    def conditions(self, ids, day, codes) -> None:
        self._add(
            "Condition", ids, day, ref.SYSTEM_ICD10CM, codes, status="active", category="problem-list-item"
        )

    def to_arrays(self) -> dict[str, pa.Array]:
        if not self.parts:
            return {}
        col = {k: np.concatenate([part[k] for part in self.parts]) for k in self.parts[0]}
        n = col["member"].size
        # A resource spans its component rows (blood pressure): components share the resource number.
        is_first_component = col["component"] <= 1
        resource_number = np.cumsum(is_first_component) - 1
        member_number = np.char.lstrip(col["member"].astype("U12"), "M")
        record = np.char.add(
            np.char.add(np.char.add(col["rtype"], "/syn-"), member_number),
            np.char.add("-", resource_number.astype("U12")),
        )
        when = (col["day"].astype("int64") * 86_400_000_000).astype("datetime64[us]")
        blank = lambda a: a == ""  # noqa: E731
        value = col["value"]
        return {
            "record_id": _strings(record),
            "coding_index": pa.array(np.zeros(n, np.int32)),
            "component_index": pa.array(col["component"]),
            "member_id": _strings(col["member"]),
            "resource_type": _strings(col["rtype"]),
            "status": _strings(col["status"]),
            "category": _strings(col["category"], blank(col["category"])),
            "code_system": _strings(col["system"]),
            "code": _strings(col["code"]),
            "component_code_system": _strings(col["csys"], blank(col["csys"])),
            "component_code": _strings(col["ccode"], blank(col["ccode"])),
            "value_numeric": pa.array(value, pa.float64(), mask=np.isnan(value)),
            "value_unit": _strings(col["unit"], blank(col["unit"])),
            "value_code_system": _strings(col["vsys"], blank(col["vsys"])),
            "value_code": _strings(col["vcode"], blank(col["vcode"])),
            "effective_start": pa.array(when, pa.timestamp("us")),
            "effective_end": pa.array(when, pa.timestamp("us")),
            "performer_npi": _strings(col["npi"], blank(col["npi"])),
            "negated": pa.array(np.zeros(n, bool)),
        }
