"""Code lists of the registry exchange format (docs/FORMATS.md), one place for all of them."""

from __future__ import annotations

FLOOR_MATERIAL = (
    "tanah",
    "bambu",
    "kayu_murah",
    "semen",
    "ubin",
    "keramik",
    "marmer_granit",
    "parket",
)
WALL_MATERIAL = ("bambu_rumbia", "kayu_murah", "tembok_tanpa_plester", "kayu_berkualitas", "tembok")
ROOF_MATERIAL = ("ijuk_rumbia", "seng", "asbes", "genteng", "beton")
TOILET = ("tidak_ada", "umum", "bersama", "sendiri")
WATER_SOURCE = ("sungai_hujan", "sumur_tak_terlindung", "sumur_terlindung", "ledeng", "air_kemasan")
LIGHTING = ("bukan_listrik", "listrik_non_pln", "pln_450", "pln_900", "pln_1300", "pln_2200_plus")
COOKING_FUEL = ("kayu_arang", "minyak_tanah", "gas_3kg", "gas_besar", "listrik")
TENURE = ("milik_sendiri", "kontrak_sewa", "bebas_sewa", "dinas", "lainnya")

SEX = ("L", "P")
RELATIONSHIP = (
    "kepala_keluarga",
    "istri_suami",
    "anak",
    "menantu",
    "cucu",
    "orang_tua",
    "mertua",
    "famili_lain",
    "lainnya",
)
HEAD = "kepala_keluarga"
MARITAL_STATUS = ("belum_kawin", "kawin", "cerai_hidup", "cerai_mati")
EDUCATION = ("tidak_sekolah", "sd", "smp", "sma", "diploma", "sarjana")
SCHOOL_LEVEL = ("tidak", "paud", "sd", "smp", "sma", "pt")
OCCUPATION = (
    "tidak_bekerja",
    "petani",
    "nelayan",
    "buruh",
    "pedagang",
    "wiraswasta",
    "karyawan_swasta",
    "pns_tni_polri",
    "lainnya",
)
DISABILITY = ("tidak_ada", "fisik", "netra", "rungu_wicara", "mental", "intelektual", "ganda")
DISABILITY_SEVERITY = ("tidak_ada", "ringan", "sedang", "berat")

REQUEST_KINDS = (
    "new_family",
    "update",
    "update_member",
    "add_member",
    "remove_member",
    "exit",
    "update_account",
)
REQUEST_STATES = ("proposed", "verified", "approved", "rejected")
HOUSEHOLD_STATUS = ("proposed", "verified", "approved", "inactive", "rejected")
MEMBER_STATUS = ("active", "deceased", "moved", "removed")

# column → allowed codes, for every coded column of the two files
HOUSEHOLD_ENUMS: dict[str, tuple[str, ...]] = {
    "floor_material": FLOOR_MATERIAL,
    "wall_material": WALL_MATERIAL,
    "roof_material": ROOF_MATERIAL,
    "toilet": TOILET,
    "water_source": WATER_SOURCE,
    "lighting": LIGHTING,
    "cooking_fuel": COOKING_FUEL,
    "tenure": TENURE,
}
MEMBER_ENUMS: dict[str, tuple[str, ...]] = {
    "sex": SEX,
    "relationship": RELATIONSHIP,
    "marital_status": MARITAL_STATUS,
    "education": EDUCATION,
    "school_level": SCHOOL_LEVEL,
    "occupation": OCCUPATION,
    "disability": DISABILITY,
    "disability_severity": DISABILITY_SEVERITY,
}
HOUSEHOLD_FLAGS = ("owns_land", "has_car", "has_refrigerator", "has_air_conditioner", "has_gold")
HOUSEHOLD_COUNTS = ("motorbikes", "large_livestock")
MEMBER_FLAGS = ("pregnant",)

HOUSEHOLD_COLUMNS = (
    "kk_number",
    "village_code",
    "address",
    "rt",
    "rw",
    "latitude",
    "longitude",
    "floor_area_m2",
    *HOUSEHOLD_ENUMS,
    "owns_land",
    "motorbikes",
    "has_car",
    "has_refrigerator",
    "has_air_conditioner",
    "has_gold",
    "large_livestock",
)
HOUSEHOLD_OPTIONAL = frozenset({"address", "rt", "rw", "latitude", "longitude"})
MEMBER_COLUMNS = (
    "kk_number",
    "nik",
    "name",
    "sex",
    "birth_date",
    "relationship",
    "marital_status",
    "education",
    "school_level",
    "occupation",
    "disability",
    "disability_severity",
    "pregnant",
    "mother_name",
)
MEMBER_OPTIONAL = frozenset({"mother_name"})
