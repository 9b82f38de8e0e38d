"""Risk-adjustment inputs from canonical tables: persons from ``members`` (+ ``enrollment``) and
diagnoses from the risk-adjustment-eligible encounters of ``medical_claims``.

Diagnosis filtering follows CMS's encounter-data / RAPS filtering rules for MA risk adjustment:

* dates of service in the data-collection year (payment year - 1, prospective model), by claim
  through date (line service date when the claim has none);
* inpatient facility claims, type of bill 11x or 41x: every diagnosis counts;
* outpatient facility claims, type of bill 12x, 13x, 43x, 71x, 73x, 76x, 77x, 85x or 87x, and
  professional claims: the claim counts when one of its lines carries a CPT/HCPCS code on CMS's
  risk-adjustment eligible list for the year of service (shipped in ``data/eligible_cpt_hcpcs.csv``);
* other claim types (SNF, home health, hospice, DME) and voided claims never count.

CMS's professional filter also checks the provider specialty; canonical claims carry a specialty
code but apmkit does not ship CMS's acceptable-specialty list, so that check is not applied.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import ibis.selectors as s

from apmkit.portable import Materialize, one_of
from apmkit.risk._expr import trimmed
from apmkit.risk.reference import eligible_cpt_hcpcs

INPATIENT_BILL_TYPES = ("11", "41")
OUTPATIENT_BILL_TYPES = ("12", "13", "43", "71", "73", "76", "77", "85", "87")


def data_year_months(enrollment: ir.Table, *, payment_year: int) -> ir.IntegerScalar:
    """How many of the 12 months of the data-collection year (payment year - 1) the enrollment table has rows for.

    When it is 12 the table covers the data year and CMS's new-enrollee rule applies to every member (see
    :func:`persons_from_members`).
    """
    data_year = payment_year - 1
    return enrollment.filter(enrollment.month.year() == data_year).month.nunique()


def new_enrollee_rule(months_covered: int, *, payment_year: int) -> str:
    """The sentence that says which new-enrollee rule :func:`persons_from_members` applied."""
    data_year = payment_year - 1
    if months_covered >= 12:
        return (
            f"new enrollees by CMS's rule: fewer than 12 months of Part B in {data_year} (the enrollment table "
            f"covers {data_year}; members without {data_year} enrollment rows are new enrollees)"
        )
    return (
        f"new enrollees from partial enrollment: the enrollment table covers {months_covered} of the 12 months "
        f"of {data_year}, so CMS's rule (fewer than 12 months of Part B in {data_year}) is applied only to "
        f"members with {data_year} enrollment rows; members without them are scored as continuing enrollees"
    )


def persons_from_members(
    members: ir.Table, enrollment: ir.Table, *, payment_year: int, covers_data_year: bool
) -> ir.Table:
    """The persons table (strings, as :func:`apmkit.risk.inputs.conform_persons` takes) from canonical tables.

    ``ltimcaid`` is Medicaid for an institutional member, ``nemcaid`` Medicaid. New enrollees follow CMS's
    rule: fewer than 12 months of Part B entitlement in the data-collection year (payment year - 1).

    ``covers_data_year`` says whether the enrollment table covers the data year (all 12 months present:
    :func:`data_year_months`). When it does, the rule applies to every member, and a member with no
    enrollment rows in the data year (e.g. entitled in January of the payment year) has 0 months of Part B
    and is a new enrollee. When it does not, only members with enrollment rows in the data year can be
    judged; the others are scored as continuing enrollees (:func:`new_enrollee_rule` words the choice).
    """
    data_year = payment_year - 1
    months = enrollment.filter((enrollment.month.year() == data_year) & enrollment.part_b.fill_null(False))
    part_b = months.group_by("member_id").aggregate(part_b_months=months.month.nunique())
    listed = enrollment.filter(enrollment.month.year() == data_year).select("member_id").distinct()
    listed = listed.left_join(part_b, "member_id").select(
        enrolled_member_id=listed.member_id, part_b_months=part_b.part_b_months.fill_null(0)
    )
    t = members.left_join(listed, members.member_id == listed.enrolled_member_id)
    medicaid = t.medicaid.fill_null(False)
    institutional = t.institutional.fill_null(False)
    if covers_data_year:
        new_enrollee = t.part_b_months.fill_null(0) < 12
    else:
        new_enrollee = t.enrolled_member_id.notnull() & (t.part_b_months < 12)

    def flag(value: ir.BooleanValue) -> ir.StringValue:
        return ibis.ifelse(value, "1", "0")

    return t.select(
        member_id=t.member_id,
        birth_date=t.birth_date.cast("string"),
        sex=t.sex,
        orec=t.orec,
        ltimcaid=flag(institutional & medicaid),
        nemcaid=flag(medicaid),
        dual_status_code=t.dual_status_code,
        esrd=flag(t.esrd.fill_null(False)),
        snp=ibis.literal("0"),
        institutional=flag(institutional),
        new_enrollee=flag(new_enrollee),
        source_line=t.source_line,
    )


def diagnoses_from_claims(
    medical_claims: ir.Table, *, payment_year: int, materialize: Materialize | None = None
) -> ir.Table:
    """Distinct ``member_id, dx_code`` from risk-adjustment-eligible claims of the data-collection year.

    ``materialize`` (the run passes ``engine.materialize``) computes the eligible claims and the distinct codes
    once; each ``dx_`` column of the eligible lines is read on its own, NULLs dropped before the rows are
    stacked (an unpivot makes 25 rows of every line, most of them NULL, before filtering them out). Without it
    the expression stays one lazy unpivot (small inputs).
    """
    data_year = payment_year - 1
    claims = medical_claims
    service_date = claims.claim_thru_date.fill_null(claims.service_date)
    bill_type = trimmed(claims.bill_type.fill_null(""))
    # Facility type and claim classification: the first two digits of a 3-digit type of bill, or
    # digits 2-3 of the 4-digit form with its leading zero.
    bill_prefix = ibis.ifelse(bill_type.length() == 4, bill_type.substr(1, 2), bill_type.substr(0, 2))
    in_year = service_date.year() == data_year
    not_void = claims.adjustment_type.fill_null("original") != "void"
    inpatient = one_of(claims.claim_type, ("inpatient",)) & one_of(bill_prefix, INPATIENT_BILL_TYPES)
    outpatient = one_of(claims.claim_type, ("outpatient", "inpatient")) & one_of(
        bill_prefix, OUTPATIENT_BILL_TYPES
    )
    professional = claims.claim_type == "professional"
    lines = claims.filter(in_year & not_void)
    # Each kind of claim is a filter of its own (the claim type first, so the bill type is read only for the
    # lines of that type), not a flag computed for every line of the year.
    codes = ibis.memtable(eligible_cpt_hcpcs(data_year))
    procedure_lines = lines.filter(outpatient | professional)
    eligible_lines = procedure_lines.semi_join(codes, procedure_lines.hcpcs_code == codes.hcpcs_code)
    # Read only by semi-joins below: a claim listed twice (inpatient, or several eligible lines) is still one
    # claim, so the list is not made distinct (a hash aggregate over every eligible line).
    eligible_claims = lines.filter(inpatient).select("claim_id").union(eligible_lines.select("claim_id"))
    dx_columns = [name for name in claims.columns if name.startswith("dx_")]
    if materialize is None:
        kept = lines.semi_join(eligible_claims, "claim_id").select("member_id", *dx_columns)
        long = kept.pivot_longer(s.startswith("dx_"), names_to="dx_position", values_to="dx_code")
        long = long.filter(long.dx_code.notnull() & (trimmed(long.dx_code) != ""))
        return long.select("member_id", "dx_code").distinct()
    # The eligible claims come from a few columns; the diagnosis columns are read only for their lines.
    eligible_claims = materialize(eligible_claims)
    kept = lines.semi_join(eligible_claims, "claim_id").select("member_id", *dx_columns)
    parts = [kept.select("member_id", dx_code=kept[name]) for name in dx_columns]
    # The lines are read once per position in one query: DuckDB computes a CTE read several times once (and the
    # Spark engine computes it first), which cost half of storing the lines' 26 columns as a table of their own.
    # One DISTINCT over the stacked codes: ``union(distinct=True)`` nests a DISTINCT at every pairwise union.
    stacked = materialize(ibis.union(*[part.filter(part.dx_code.notnull()) for part in parts]).distinct())
    # Blank codes are dropped after the DISTINCT, from the stored result: the check runs once per member and
    # code (on the lazy DISTINCT, DuckDB pushed it below into every position's rows).
    return stacked.filter(trimmed(stacked.dx_code) != "")
