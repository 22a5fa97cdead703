"""Targets and code lists the generator draws from.

The cohort numbers are the paper's (`../shared/spec/published_results.json`); they are copied here so
the generator runs without the spec folder. The unit conversions and the lab catalogue follow
`raw-extract-contract.md` and `lab-codes.csv`. Tests compare the generated truth with the JSON file
itself, never with this module.
"""

from __future__ import annotations

import datetime as dt

from ildwh import contract

EPOCH = dt.date(1970, 1, 1)
WINDOW_START = dt.date(2017, 1, 1)
WINDOW_END = dt.date(2022, 12, 31)
ADMIN_END = dt.date(2022, 12, 31)
LAST_EVENT = dt.date(2023, 1, 10)  # no clinical date after this (drop 1 is extracted 2023-01-15)
FIRST_DROP = dt.date(2023, 1, 15)


def day(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


GROUPS = ("ADM-NSIP", "control-NSIP", "ADM-OP", "control-OP")
GROUP_N = {"ADM-NSIP": 46, "control-NSIP": 92, "ADM-OP": 23, "control-OP": 29}
# Control diagnoses: the paper's control-NSIP list sums to 102, not 92; largest-remainder split.
CONTROL_DX = {
    "control-NSIP": {
        "RA": 13,
        "pSS": 17,
        "SSc": 11,
        "SLE": 7,
        "MCTD": 3,
        "IIP": 13,
        "MPA": 17,
        "IPAF": 11,
    },
    "control-OP": {"COP": 24, "RA": 3, "IPAF": 1, "SLE": 1},
}
EXITS = (
    ("pattern_not_nsip_op", 142),
    ("iim_muscle_involvement", 19),
    ("malignancy", 10),
    ("multiple_ctd", 4),
    ("prior_treatment", 15),
    ("drug_induced", 2),
)
N_SCREENED = 382

# Counts per group, in GROUPS order.
SEX_MALE = (19, 28, 7, 18)
SMOKERS = (8, 25, 4, 11)
SYSTEMIC = (20, 56, 8, 7)
ANA_POS = (38, 56, 17, 5)
N_BLOOD_GAS = (39, 59, 17, 21)
N_PFT = (29, 52, 14, 9)
FERRITIN_TESTED = (0.65, 0.45, 0.65, 0.45)

# Table 1 (ADM-NSIP, ADM-OP)
SKIN = {"heliotrope": (17, 13), "gottron": (10, 16), "minor": (16, 7)}
# 24 minor findings over the 23 patients with any (16 + 7): one patient carries two.
MINOR_BREAKDOWN = {
    "MECHANIC_HANDS": 9,
    "V_SIGN": 6,
    "CUTANEOUS_ULCER": 4,
    "POIKILODERMA": 3,
    "HOLSTER_SIGN": 2,
}
ADM_ANTIBODIES = {
    "MDA5": (6, 11),
    "PL7": (12, 2),
    "JO1": (10, 3),
    "PL12": (6, 2),
    "EJ": (5, 3),
    "MI2": (3, 0),
    "SRP": (0, 2),
    "RO52": (25, 8),
    "PMSCL75": (3, 1),
    "SSA": (3, 0),
    "PMSCL100": (1, 1),
    "KU": (1, 1),
    "U1RNP": (1, 0),
}
ANTIBODIES = tuple(ADM_ANTIBODIES)

# Continuous variables: (kind, [(mean, sd) per group], decimals, clip low, clip high)
CONT = {
    "age_years": (
        "norm",
        [(58.35, 12.08), (65.22, 14.34), (57.65, 15.26), (62.76, 15.16)],
        0,
        19,
        92,
    ),
    "WBC": ("logn", [(6.92, 3.37), (7.04, 3.43), (6.46, 3.69), (7.94, 2.50)], 2, 1.0, 40),
    "LYM": ("norm", [(1.32, 0.64), (1.56, 0.59), (1.12, 0.65), (1.52, 1.15)], 2, 0.15, 6),
    "HB": (
        "norm",
        [(125.93, 12.91), (123.49, 20.12), (120.57, 17.38), (124.34, 20.01)],
        0,
        60,
        185,
    ),
    "PLT": (
        "norm",
        [(246.72, 73.28), (227.11, 85.48), (225.74, 73.60), (279.66, 99.40)],
        0,
        30,
        700,
    ),
    "HSCRP": (
        "logn",
        [(15.78, 32.30), (20.22, 34.25), (18.55, 31.52), (48.08, 42.67)],
        2,
        0.05,
        400,
    ),
    "ESR": ("logn", [(41.20, 33.49), (41.16, 34.69), (37.95, 25.50), (58.93, 35.40)], 0, 1, 140),
    "ALB": ("norm", [(36.41, 4.98), (37.44, 5.06), (33.37, 5.03), (36.06, 5.40)], 1, 18, 52),
    "ALT": ("logn", [(30.33, 34.28), (22.77, 17.07), (30.30, 20.67), (21.24, 14.14)], 0, 4, 900),
    "AST": ("logn", [(35.35, 33.01), (30.16, 16.94), (53.35, 65.86), (23.83, 11.16)], 0, 6, 900),
    "CK": ("logn", [(74.40, 39.77), (83.27, 105.39), (83.45, 50.96), (72.48, 66.81)], 0, 12, 3000),
    "CKMB": ("logn", [(15.19, 8.58), (11.15, 4.97), (13.38, 8.73), (11.28, 7.47)], 0, 2, 120),
    "LDH": (
        "logn",
        [(290.61, 86.49), (207.04, 56.64), (317.35, 181.32), (185.10, 36.97)],
        0,
        100,
        1400,
    ),
    "B2MG": ("logn", [(2.61, 1.21), (3.38, 2.47), (2.94, 1.61), (2.34, 0.74)], 2, 0.6, 25),
    "FERRITIN": (
        "logn",
        [(520.0, 560.0), (260.0, 300.0), (900.0, 850.0), (240.0, 260.0)],
        1,
        8,
        6000,
    ),
    "PAO2": ("norm", [(93.08, 26.20), (80.24, 16.07), (82.05, 22.10), (75.19, 16.68)], 1, 40, 180),
    "LACTATE": ("logn", [(1.62, 0.69), (1.74, 0.86), (1.81, 1.00), (1.74, 0.81)], 1, 0.4, 9),
    "fev1": ("norm", [(76.28, 17.84), (88.56, 18.38), (74.16, 19.69), (85.27, 27.57)], 1, 25, 140),
    "fvc": ("norm", [(75.32, 19.06), (83.07, 16.01), (76.88, 17.27), (78.01, 21.46)], 1, 25, 140),
    "dlco": ("norm", [(53.94, 16.77), (64.21, 20.10), (54.21, 15.70), (71.28, 9.70)], 1, 15, 130),
}
OI_TARGET = (401.75, 372.28, 346.37, 328.25)
OI_SD = (76.34, 81.85, 86.39, 93.01)
# LDH bins (<=211, 211-235.5, >235.5): 56/69 ADM above 211 U/L, ROC cut-off 235.5 gives
# sensitivity 51/69 and specificity 100/121 as published.
LDH_BINS = {
    "ADM-NSIP": (8, 3, 35),
    "ADM-OP": (5, 2, 16),
    "control-NSIP": (74, 0, 18),
    "control-OP": (26, 0, 3),
}

# Survival: S(t) knots per group (months, survival); 1/3/5-year points are the paper's.
SURV_KNOTS = {
    "ADM-NSIP": ((0, 1.0), (2, 0.98), (12, 0.9783), (36, 0.8623), (60, 0.7536), (84, 0.68)),
    "control-NSIP": ((0, 1.0), (12, 0.9783), (36, 0.9226), (60, 0.8669), (84, 0.83)),
    "ADM-OP": ((0, 1.0), (2, 0.835), (12, 0.8261), (36, 0.6803), (84, 0.6803)),
    "control-OP": ((0, 1.0), (36, 1.0), (60, 0.9412), (84, 0.90)),
}
# Cox (ADM): log hazard ratios per unit of age, smoking, anti-MDA5, WBC.
COX_LOGHR = {"age": 0.0862, "smoking": 1.5476, "mda5": 1.6351, "wbc": 0.1906}

# Lab catalogue: analyte -> [(code, name, [(unit, factor to canonical, decimals in that unit)])]
LAB = {
    "WBC": [
        ("HEM001", "WBC", [("10^9/L", 1, 2), ("10^3/uL", 1, 2), ("/uL", 0.001, 0)]),
        ("XN-WBC", "白细胞计数", [("10^9/L", 1, 2)]),
    ],
    "LYM": [
        ("HEM004", "LYM#", [("10^9/L", 1, 2), ("10^3/uL", 1, 2)]),
        ("XN-LYMA", "淋巴细胞绝对值", [("10^9/L", 1, 2)]),
    ],
    "HB": [
        ("HEM002", "HGB", [("g/L", 1, 0), ("g/dL", 10, 1)]),
        ("XN-HGB", "血红蛋白", [("g/L", 1, 0)]),
    ],
    "PLT": [
        ("HEM003", "PLT", [("10^9/L", 1, 0), ("10^3/uL", 1, 0)]),
        ("XN-PLT", "血小板计数", [("10^9/L", 1, 0)]),
    ],
    "HSCRP": [
        ("IMM010", "hsCRP", [("mg/L", 1, 2), ("mg/dL", 10, 3)]),
        ("POCT-CRP", "超敏C反应蛋白", [("mg/L", 1, 2)]),
    ],
    "ESR": [("HEM020", "ESR", [("mm/h", 1, 0)])],
    "ALB": [
        ("BIO010", "ALB", [("g/L", 1, 1), ("g/dL", 10, 2)]),
        ("BIO-ALB", "白蛋白", [("g/L", 1, 1)]),
    ],
    "ALT": [
        ("BIO001", "ALT", [("U/L", 1, 0), ("IU/L", 1, 0), ("ukat/L", 60, 4)]),
        ("BIO-ALT", "丙氨酸氨基转移酶", [("U/L", 1, 0)]),
    ],
    "AST": [
        ("BIO002", "AST", [("U/L", 1, 0), ("IU/L", 1, 0), ("ukat/L", 60, 4)]),
        ("BIO-AST", "天门冬氨酸氨基转移酶", [("U/L", 1, 0)]),
    ],
    "CK": [
        ("BIO020", "CK", [("U/L", 1, 0), ("IU/L", 1, 0), ("ukat/L", 60, 4)]),
        ("BIO-CK", "肌酸激酶", [("U/L", 1, 0)]),
    ],
    "CKMB": [
        ("BIO021", "CK-MB", [("U/L", 1, 0), ("IU/L", 1, 0)]),
        ("BIO-CKMB", "肌酸激酶同工酶", [("U/L", 1, 0)]),
    ],
    "LDH": [
        ("BIO022", "LDH", [("U/L", 1, 0), ("IU/L", 1, 0), ("µkat/L", 60, 4), ("ukat/L", 60, 4)]),
        ("BIO-LDH", "乳酸脱氢酶", [("U/L", 1, 0)]),
    ],
    "B2MG": [
        ("IMM030", "B2-MG", [("mg/L", 1, 2), ("ug/mL", 1, 2)]),
        ("IMM-B2M", "β2-微球蛋白", [("mg/L", 1, 2)]),
    ],
    "FERRITIN": [
        ("IMM040", "Ferritin", [("ug/L", 1, 1), ("ng/mL", 1, 1)]),
        ("IMM-FER", "铁蛋白", [("ng/mL", 1, 1)]),
    ],
    "PAO2": [
        ("BG001", "pO2", [("mmHg", 1, 1), ("kPa", 7.50062, 2)]),
        ("BG-PO2", "氧分压", [("mmHg", 1, 1)]),
    ],
    "FIO2": [
        ("BG010", "FiO2", [("%", 0.01, 0), ("fraction", 1, 2)]),
        ("BG-FIO2", "吸氧浓度", [("%", 0.01, 0)]),
    ],
    "LACTATE": [("BG020", "Lac", [("mmol/L", 1, 1)]), ("BG-LAC", "乳酸", [("mmol/L", 1, 1)])],
    "ANA": [("AUT001", "ANA", [("", 1, 0)]), ("AUT-ANA", "抗核抗体", [("", 1, 0)])],
}
_MYO = {
    "MDA5": ("MYO001", "Anti-MDA5"),
    "JO1": ("MYO002", "Anti-Jo-1"),
    "PL7": ("MYO003", "Anti-PL-7"),
    "PL12": ("MYO004", "Anti-PL-12"),
    "EJ": ("MYO005", "Anti-EJ"),
    "MI2": ("MYO006", "Anti-Mi-2"),
    "SRP": ("MYO007", "Anti-SRP"),
    "RO52": ("MYO008", "Anti-Ro-52"),
    "PMSCL75": ("MYO009", "Anti-PM-Scl75"),
    "PMSCL100": ("MYO010", "Anti-PM-Scl100"),
    "SSA": ("MYO011", "Anti-SSA"),
    "KU": ("MYO012", "Anti-Ku"),
    "U1RNP": ("MYO013", "Anti-U1-RNP"),
}
for _a, (_c, _n) in _MYO.items():
    LAB[_a] = [(_c, _n, [("", 1, 0)])]

# code -> analyte (what a correct seed built from lab-codes.csv says); None = known but unused
CODE_ANALYTE: dict[str, str | None] = {c: a for a, rows in LAB.items() for c, _, _ in rows}
CODE_ANALYTE.update({"BIO030": None, "BIO031": None, "BIO032": None})
UNUSED_CODES = (
    ("BIO030", "GLU", "mmol/L", "5.6"),
    ("BIO031", "CREA", "umol/L", "71"),
    ("BIO032", "Na", "mmol/L", "139"),
)
# unit conversions to canonical units (contract), by analyte
UNIT_FACTOR = {(a, u): f for a, rows in LAB.items() for _, _, us in rows for u, f, _ in us}

NUMERIC_ANALYTES = contract.NUMERIC_ANALYTES
REF_RANGE = {
    "WBC": "3.5-9.5",
    "LYM": "1.1-3.2",
    "HB": "115-150",
    "PLT": "125-350",
    "HSCRP": "0-5",
    "ESR": "0-20",
    "ALB": "40-55",
    "ALT": "7-40",
    "AST": "13-35",
    "CK": "26-190",
    "CKMB": "0-24",
    "LDH": "106-211",
    "B2MG": "1.0-3.0",
    "FERRITIN": "15-150",
    "PAO2": "80-100",
    "LACTATE": "0.5-1.6",
}

BASELINE_COLUMN = {
    "WBC": "wbc_10e9_per_l",
    "LYM": "lymphocyte_10e9_per_l",
    "HB": "hb_g_per_l",
    "PLT": "plt_10e9_per_l",
    "HSCRP": "hscrp_mg_per_l",
    "ESR": "esr_mm_per_h",
    "ALB": "alb_g_per_l",
    "ALT": "alt_u_per_l",
    "AST": "ast_u_per_l",
    "CK": "ck_u_per_l",
    "CKMB": "ckmb_u_per_l",
    "LDH": "ldh_u_per_l",
    "B2MG": "b2mg_mg_per_l",
    "FERRITIN": "ferritin_ug_per_l",
    "PAO2": "pao2_mmhg",
    "LACTATE": "lactate_mmol_per_l",
}

# ICD-10 code lists (as the protocol states them)
ILD_PREFIXES = ("J84", "J99.1", "M05.1")
IIM_PREFIXES = ("M33", "M60.8", "G72.4")
DM_PREFIXES = ("M33.0", "M33.1", "M33.9")
CTD_PREFIXES = {
    "RA": ("M05", "M06"),
    "pSS": ("M35.0",),
    "SSc": ("M34",),
    "SLE": ("M32",),
    "MCTD": ("M35.1",),
    "DM": ("M33.0", "M33.1", "M33.9"),
    "PM": ("M33.2",),
    "UCTD": ("M35.9",),
}
CTD_CODES = {
    "RA": ("M06.9", "M05.9", "M06.901", "m06.9"),
    "pSS": ("M35.0", "M35.001"),
    "SSc": ("M34.1", "M34.9", "M34.901"),
    "SLE": ("M32.9", "M32.1", "M32.101"),
    "MCTD": ("M35.1", "M35.101"),
}

TREATMENT_ATC = ("H02AB", "L04A", "L01AA01")
TREATMENT_EXCEPT = ("L04AX05",)
INDUCING_ATC = ("L01XX05", "L04AB", "M01CC01", "L01FF", "C02DB02", "C01BA02", "J04AC01")
# drug-names.csv (name -> ATC), matched case-insensitively after trimming
DRUG_NAMES = {
    "prednisone": "H02AB07",
    "prednisolone": "H02AB06",
    "methylprednisolone": "H02AB04",
    "dexamethasone": "H02AB02",
    "hydrocortisone": "H02AB09",
    "醋酸泼尼松": "H02AB07",
    "泼尼松": "H02AB07",
    "甲泼尼龙": "H02AB04",
    "medrol": "H02AB04",
    "地塞米松": "H02AB02",
    "cyclophosphamide": "L01AA01",
    "环磷酰胺": "L01AA01",
    "tacrolimus": "L04AD02",
    "他克莫司": "L04AD02",
    "ciclosporin": "L04AD01",
    "cyclosporine": "L04AD01",
    "环孢素": "L04AD01",
    "mycophenolate mofetil": "L04AA06",
    "吗替麦考酚酯": "L04AA06",
    "azathioprine": "L04AX01",
    "硫唑嘌呤": "L04AX01",
    "methotrexate": "L04AX03",
    "甲氨蝶呤": "L04AX03",
    "tofacitinib": "L04AF01",
    "hydroxyurea": "L01XX05",
    "羟基脲": "L01XX05",
    "adalimumab": "L04AB04",
    "infliximab": "L04AB02",
    "etanercept": "L04AB01",
    "penicillamine": "M01CC01",
    "青霉胺": "M01CC01",
    "pembrolizumab": "L01FF02",
    "nivolumab": "L01FF01",
    "hydralazine": "C02DB02",
    "procainamide": "C01BA02",
    "isoniazid": "J04AC01",
    "异烟肼": "J04AC01",
    "pirfenidone": "L04AX05",
    "nintedanib": "L01EX09",
}
# treatments given at/after index to analysed patients: (name as entered, ATC as entered)
TREATMENTS = (
    ("prednisone", "H02AB07"),
    ("醋酸泼尼松", ""),
    ("methylprednisolone", "H02AB04"),
    ("甲泼尼龙", ""),
    ("Medrol", ""),
    ("cyclophosphamide", "L01AA01"),
    ("环磷酰胺", ""),
    ("tacrolimus", "L04AD02"),
    ("mycophenolate mofetil", "L04AA06"),
    ("他克莫司", ""),
    ("prednisolone", "H02AB06"),
    ("Methotrexate ", ""),
)
HARMLESS_DRUGS = (
    ("omeprazole", "A02BC01"),
    ("acetylcysteine", "R05CB01"),
    ("hydroxychloroquine", "P01BA02"),
    ("amlodipine", "C08CA01"),
    ("乙酰半胱氨酸", ""),
    ("metformin", "A10BA02"),
    ("calcium carbonate", "A12AA04"),
)
