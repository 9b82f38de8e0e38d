"""Reference tables the generator draws from: real code systems, approximate Medicare FFS magnitudes.

Codes are real (ICD-10-CM, MS-DRG, CPT/HCPCS, revenue codes, LOINC, CMS specialty codes, SSA and FIPS
county codes). Prevalences, rates and prices are rounded magnitudes in the range published for Medicare
fee-for-service (CMS Chronic Conditions Warehouse prevalence tables, physician fee schedule and IPPS
orders of magnitude); they make the population realistic enough to exercise every module, not an
actuarial model. NDCs are format-valid but synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    name: str
    icd10: tuple[str, ...]  # alternative codes, no dot; the first is the most common
    prevalence: float  # among aged members at average frailty
    frailty_loading: float  # log-odds per unit of latent frailty
    sex: str | None = None  # restrict to one sex
    specialty: str | None = None  # CMS specialty that manages it
    drug: int | None = None  # index into DRUGS, filled monthly
    utilization: float = 0.0  # extra admissions per year (log scale contribution)


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "diabetes", ("E119", "E1165", "E1122", "E1140"), 0.27, 0.45, specialty="46", drug=0, utilization=0.15
    ),
    Condition("hypertension", ("I10",), 0.58, 0.35, specialty="06", drug=1),
    Condition("hyperlipidemia", ("E785",), 0.48, 0.15, drug=2),
    Condition(
        "heart_failure", ("I5022", "I509", "I5032"), 0.13, 0.75, specialty="06", drug=3, utilization=0.45
    ),
    Condition("copd", ("J449", "J441"), 0.11, 0.6, specialty="29", drug=4, utilization=0.35),
    Condition("ckd_stage3", ("N1830", "N1831", "N1832"), 0.15, 0.55, specialty="39", utilization=0.15),
    Condition("atrial_fibrillation", ("I4891", "I480"), 0.09, 0.5, specialty="06", drug=5, utilization=0.2),
    Condition("major_depression", ("F331", "F329"), 0.08, 0.4, specialty="26", drug=6),
    Condition("rheumatoid_arthritis", ("M069",), 0.03, 0.3, specialty="66", drug=7),
    Condition("morbid_obesity", ("E6601",), 0.05, 0.3),
    Condition("breast_cancer", ("C50911", "C50912"), 0.03, 0.3, sex="F", specialty="90", utilization=0.2),
    Condition("prostate_cancer", ("C61",), 0.05, 0.2, sex="M", specialty="90"),
    Condition("lung_cancer", ("C3490",), 0.007, 0.6, specialty="90", utilization=0.6),
    Condition("dementia", ("F0390", "G309"), 0.07, 0.8, specialty="13", utilization=0.3),
    Condition("stroke_sequelae", ("I69351",), 0.015, 0.7, specialty="13", utilization=0.3),
    Condition("osteoarthritis", ("M1711", "M1611"), 0.30, 0.2, specialty="20"),
    Condition("ischemic_heart_disease", ("I2510",), 0.26, 0.45, specialty="06"),
    Condition("schizophrenia", ("F209",), 0.01, 0.4, specialty="26"),
    Condition("opioid_dependence", ("F1120",), 0.01, 0.5),
    Condition("vascular_disease", ("I70213",), 0.03, 0.6, specialty="77", utilization=0.2),
    Condition("ckd_stage4", ("N184",), 0.025, 0.8, specialty="39", utilization=0.3),
    Condition("parkinsons", ("G20A1",), 0.015, 0.5, specialty="13", utilization=0.2),
    Condition("seizure_disorder", ("G40909",), 0.02, 0.5, specialty="13", utilization=0.2),
    Condition("malnutrition", ("E440", "E43"), 0.02, 0.9, utilization=0.4),
    Condition("old_myocardial_infarction", ("I252",), 0.05, 0.5, specialty="06"),
)
CONDITION_INDEX = {c.name: i for i, c in enumerate(CONDITIONS)}

# Codes for people with ESRD (dialysis status) and for acute, non-chronic visit reasons.
ESRD_DX = ("N186", "Z992")
ACUTE_DX = ("J069", "R0602", "M545", "R109", "N390", "L03115", "R51", "J209", "Z0000", "Z1231")

PCP_SPECIALTIES = ("01", "08", "11", "38", "50", "97")  # GP, FP, IM, geriatrics, NP, PA
PCP_SPECIALTY_WEIGHTS = (0.04, 0.34, 0.40, 0.02, 0.14, 0.06)
SPECIALIST_SPECIALTIES = ("06", "13", "29", "39", "46", "90", "20", "10", "66", "26", "18", "77", "30")

# CPT/HCPCS with a 2025-magnitude national allowed amount in cents.
OFFICE_VISITS = (("99211", 2300), ("99212", 5600), ("99213", 9100), ("99214", 12900), ("99215", 18300))
OFFICE_VISIT_WEIGHTS = (0.05, 0.08, 0.45, 0.35, 0.07)
NEW_PATIENT_VISITS = (("99203", 11000), ("99204", 16700))
AWV = (("G0438", 17300), ("G0439", 13300))
CARE_MANAGEMENT = ("99490", 6100)
TRANSITIONAL_CARE = (("99495", 20100), ("99496", 27300))
LAB_TESTS = (("83036", 1300), ("80053", 1400), ("85025", 1000), ("80061", 1800), ("36415", 300))
IMAGING = (("71046", 3000), ("93000", 1700), ("93306", 21000), ("70450", 11000))
SCREENINGS = {
    "mammography": ("77067", 14000),
    "colonoscopy": ("45378", 38000),
    "depression_screen": ("G0444", 1800),
}

# ED and outpatient facility lines: (revenue code, HCPCS, allowed cents)
ED_VISIT = (("0450", "99284", 52000), ("0450", "99285", 79000), ("0450", "99283", 31000))
OUTPATIENT_LINES = (
    ("0300", "80053", 2_000),
    ("0320", "71046", 9_000),
    ("0350", "70450", 26_000),
    ("0360", "45378", 90_000),
    ("0510", "G0463", 14_000),
    ("0610", "70553", 45_000),
    ("0636", "J1756", 12_000),
    ("0940", "93798", 11_000),
)


@dataclass(frozen=True)
class Drg:
    code: str
    weight: float  # MS-DRG relative weight magnitude
    principal_dx: str
    rate: float  # relative frequency among admissions
    los: int  # typical length of stay (days)


DRGS: tuple[Drg, ...] = (
    Drg("291", 1.33, "I5023", 0.090, 5),
    Drg("190", 1.10, "J441", 0.050, 4),
    Drg("871", 1.90, "A419", 0.110, 6),
    Drg("194", 0.95, "J189", 0.050, 4),
    Drg("392", 0.75, "K5290", 0.050, 3),
    Drg("683", 0.90, "N179", 0.040, 4),
    Drg("065", 1.00, "I639", 0.030, 4),
    Drg("247", 2.10, "I2510", 0.025, 2),
    Drg("469", 3.00, "M1711", 0.008, 4),
    Drg("470", 1.90, "M1711", 0.060, 2),
    Drg("521", 3.05, "S72001A", 0.006, 6),
    Drg("522", 2.10, "S72001A", 0.012, 5),
    Drg("480", 2.90, "S72141A", 0.012, 6),
    Drg("481", 1.95, "S72141A", 0.020, 5),
    Drg("460", 4.20, "M4316", 0.012, 4),
    Drg("603", 0.85, "L03115", 0.040, 4),
    Drg("690", 0.80, "N390", 0.040, 3),
    Drg("310", 0.70, "I4891", 0.035, 2),
    Drg("378", 1.00, "K922", 0.035, 4),
    Drg("177", 1.80, "J1282", 0.030, 6),
    Drg("640", 0.85, "E871", 0.030, 3),
    Drg("313", 0.65, "R079", 0.040, 2),
    Drg("812", 0.85, "D649", 0.020, 3),
    Drg("948", 0.90, "R531", 0.020, 3),
    Drg("853", 4.70, "A419", 0.012, 12),
    Drg("003", 17.50, "J9601", 0.002, 30),
    Drg("208", 2.60, "J9601", 0.012, 8),
    Drg("917", 1.45, "T40601A", 0.015, 3),
    Drg("885", 1.20, "F209", 0.015, 10),
)
IPPS_BASE_CENTS = 930_000  # national standardized amount magnitude (labor + non-labor), dollars x 100

# Facility claims after discharge: (revenue code, per-day cents)
SNF_DAY = ("0022", 62_000)
HHA_EPISODE = ("0023", 210_000)
HOSPICE_DAY = ("0651", 22_000)

# Extra lines on office-visit claims: (HCPCS, cents, probability per visit).
VISIT_ADD_ONS = (
    ("36415", 300, 0.40),
    ("80053", 1400, 0.40),
    ("85025", 1000, 0.30),
    ("93000", 1700, 0.10),
    ("80061", 1800, 0.15),
    ("81002", 400, 0.10),
)
PHYSICAL_THERAPY = (("97110", 3100), ("97140", 2800), ("97530", 3500))
DIALYSIS_MONTH = (("90960", 30_000), ("0821", "90999", 340_000))  # physician monthly; facility per month
CHEMOTHERAPY = (("J9271", 1_050_000), ("96413", 14_000))  # pembrolizumab per dose; infusion administration

DME_ITEMS = (("E0601", 9_000), ("E1390", 18_000), ("E0114", 2_500), ("K0001", 40_000), ("A4253", 3_000))


@dataclass(frozen=True)
class Drug:
    name: str
    ndc: str
    monthly_cents: int
    generic: bool = True
    """Dispensed as a generic (``pharmacy_claims.brand_generic``); the two brands have no US generic."""


DRUGS: tuple[Drug, ...] = (
    Drug("metformin", "00093104801", 1_200),
    Drug("lisinopril", "68180051301", 900),
    Drug("atorvastatin", "00378395077", 1_500),
    Drug("furosemide", "00054829725", 800),
    Drug("tiotropium", "00597007541", 52_000, generic=False),
    Drug("apixaban", "00003089421", 56_000, generic=False),
    Drug("sertraline", "16729000101", 1_100),
    Drug("methotrexate", "00054455025", 4_000),
)


@dataclass(frozen=True)
class County:
    state: str
    name: str
    ssa: str
    fips: str
    zip_code: str
    weight: float


# The largest counties by aged/non-dual person-years in CMS's PY2018 county benchmark PUF.
COUNTIES: tuple[County, ...] = (
    County("IL", "Cook", "14141", "17031", "60601", 305.4),
    County("TX", "Harris", "45610", "48201", "77002", 140.0),
    County("NY", "Nassau", "33400", "36059", "11501", 122.6),
    County("MA", "Middlesex", "22090", "25017", "02139", 111.7),
    County("NV", "Clark", "29010", "32003", "89101", 93.7),
    County("FL", "Lee", "10350", "12071", "33901", 85.1),
    County("NY", "New York", "33420", "36061", "10001", 82.0),
    County("OH", "Cuyahoga", "36170", "39035", "44113", 77.8),
    County("FL", "Sarasota", "10570", "12115", "34236", 74.6),
    County("PA", "Montgomery", "39560", "42091", "19401", 73.4),
    County("NY", "Westchester", "33800", "36119", "10601", 71.4),
    County("VA", "Fairfax", "49290", "51059", "22030", 68.6),
    County("NJ", "Monmouth", "31290", "34025", "07728", 65.3),
    County("CT", "Fairfield", "07000", "09001", "06604", 61.7),
    County("MA", "Norfolk", "22130", "25021", "02169", 59.3),
    County("FL", "Brevard", "10040", "12009", "32901", 58.3),
    County("PA", "Bucks", "39140", "42017", "18901", 54.6),
    County("NC", "Wake", "34910", "37183", "27601", 54.2),
    County("OH", "Franklin", "36250", "39049", "43215", 52.8),
    County("OK", "Oklahoma", "37540", "40109", "73102", 51.6),
)

# LOINC and other codes for clinical facts (quality measures).
LOINC_HBA1C = "4548-4"
LOINC_BP_PANEL = "85354-9"
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
LOINC_ADULT_DEPRESSION_SCREENING = "73832-8"
SNOMED_DEPRESSION_SCREEN_NEGATIVE = "428171000124102"
SNOMED_DEPRESSION_SCREEN_POSITIVE = "428181000124104"
LOINC_MAMMOGRAPHY = "24606-6"
SYSTEM_LOINC = "http://loinc.org"
SYSTEM_CPT = "http://www.ama-assn.org/go/cpt"
SYSTEM_ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SYSTEM_HCPCS = "http://www.nlm.nih.gov/research/umls/hcpcs"
SYSTEM_SNOMED = "http://snomed.info/sct"
