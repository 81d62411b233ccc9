"""The pages' words in Indonesian (the default) and English: one dict per language, read at
import (nothing to compile). Every key exists in both (tests/test_web_i18n.py checks it, and
that every `t("…")` of a template or a page names a key here). Domain errors from services are
Indonesian already and are shown as they are."""

from __future__ import annotations

from typing import Any

from lumbung.registry.vocab import (
    HOUSEHOLD_COUNTS,
    HOUSEHOLD_ENUMS,
    HOUSEHOLD_FLAGS,
    MEMBER_ENUMS,
)
from lumbung.targeting.vocabulary import AGE_BANDS, HEAD_COLUMNS, SCHOOL_COUNTS
from lumbung.web.aid_words import AID_PAIRS
from lumbung.web.civil_words import CIVIL_PAIRS
from lumbung.web.link_words import LINK_PAIRS
from lumbung.web.merge_words import MERGE_PAIRS
from lumbung.web.simulation_words import SIMULATION_PAIRS
from lumbung.web.voucher_words import VOUCHER_PAIRS

DEFAULT = "id"
# Columns holding a flag (0/1): shown Ya/Tidak.
FLAG_COLUMNS = frozenset(
    {"owns_land", "has_car", "has_refrigerator", "has_air_conditioner", "has_gold", "pregnant"}
)
LANGUAGES = ("id", "en")

# Columns of the exchange format (docs/FORMATS.md), as a form labels them.
_FIELDS: dict[str, tuple[str, str]] = {
    "kk_number": ("Nomor KK", "Family card (KK) number"),
    "village_code": ("Kode desa/kelurahan", "Village code"),
    "address": ("Alamat", "Address"),
    "rt": ("RT", "RT (neighbourhood)"),
    "rw": ("RW", "RW (hamlet)"),
    "latitude": ("Lintang", "Latitude"),
    "longitude": ("Bujur", "Longitude"),
    "floor_area_m2": ("Luas lantai (m²)", "Floor area (m²)"),
    "floor_material": ("Jenis lantai", "Floor material"),
    "wall_material": ("Jenis dinding", "Wall material"),
    "roof_material": ("Jenis atap", "Roof material"),
    "toilet": ("Fasilitas BAB", "Toilet"),
    "water_source": ("Sumber air minum", "Drinking water source"),
    "lighting": ("Sumber penerangan", "Lighting"),
    "cooking_fuel": ("Bahan bakar memasak", "Cooking fuel"),
    "tenure": ("Status kepemilikan rumah", "Housing tenure"),
    "owns_land": ("Memiliki lahan", "Owns land"),
    "motorbikes": ("Jumlah sepeda motor", "Motorbikes"),
    "has_car": ("Memiliki mobil", "Has a car"),
    "has_refrigerator": ("Memiliki kulkas", "Has a refrigerator"),
    "has_air_conditioner": ("Memiliki AC", "Has air conditioning"),
    "has_gold": ("Memiliki emas (≥10 g)", "Has gold (≥10 g)"),
    "large_livestock": ("Ternak besar", "Large livestock"),
    "nik": ("NIK", "NIK (national ID number)"),
    "name": ("Nama", "Name"),
    "sex": ("Jenis kelamin", "Sex"),
    "birth_date": ("Tanggal lahir", "Date of birth"),
    "relationship": ("Hubungan dengan kepala keluarga", "Relationship to the head"),
    "marital_status": ("Status perkawinan", "Marital status"),
    "education": ("Pendidikan tertinggi", "Highest education"),
    "school_level": ("Jenjang sekolah saat ini", "School level now"),
    "occupation": ("Pekerjaan", "Occupation"),
    "disability": ("Disabilitas", "Disability"),
    "disability_severity": ("Tingkat disabilitas", "Disability severity"),
    "pregnant": ("Sedang hamil", "Pregnant"),
    "mother_name": ("Nama ibu kandung", "Mother's name"),
    "desil": ("Desil", "Decile"),
}

# The codes of the exchange format's coded columns (registry/vocab.py), as a page shows them:
# column → code → (id, en). A test checks every code of vocab has one.
_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "floor_material": {
        "tanah": ("Tanah", "Earth"),
        "bambu": ("Bambu", "Bamboo"),
        "kayu_murah": ("Kayu murah", "Cheap wood"),
        "semen": ("Semen", "Cement"),
        "ubin": ("Ubin", "Tiles"),
        "keramik": ("Keramik", "Ceramic"),
        "marmer_granit": ("Marmer/granit", "Marble/granite"),
        "parket": ("Parket", "Parquet"),
    },
    "wall_material": {
        "bambu_rumbia": ("Bambu/rumbia", "Bamboo/thatch"),
        "kayu_murah": ("Kayu murah", "Cheap wood"),
        "tembok_tanpa_plester": ("Tembok tanpa plester", "Unplastered brick"),
        "kayu_berkualitas": ("Kayu berkualitas", "Quality wood"),
        "tembok": ("Tembok", "Brick wall"),
    },
    "roof_material": {
        "ijuk_rumbia": ("Ijuk/rumbia", "Palm fibre/thatch"),
        "seng": ("Seng", "Zinc sheet"),
        "asbes": ("Asbes", "Asbestos"),
        "genteng": ("Genteng", "Roof tiles"),
        "beton": ("Beton", "Concrete"),
    },
    "toilet": {
        "tidak_ada": ("Tidak ada", "None"),
        "umum": ("Umum", "Public"),
        "bersama": ("Bersama", "Shared"),
        "sendiri": ("Sendiri", "Own"),
    },
    "water_source": {
        "sungai_hujan": ("Sungai/air hujan", "River/rain water"),
        "sumur_tak_terlindung": ("Sumur tak terlindung", "Unprotected well"),
        "sumur_terlindung": ("Sumur terlindung", "Protected well"),
        "ledeng": ("Ledeng", "Piped water"),
        "air_kemasan": ("Air kemasan", "Bottled water"),
    },
    "lighting": {
        "bukan_listrik": ("Bukan listrik", "Not electric"),
        "listrik_non_pln": ("Listrik non-PLN", "Electricity, not PLN"),
        "pln_450": ("PLN 450 VA", "PLN 450 VA"),
        "pln_900": ("PLN 900 VA", "PLN 900 VA"),
        "pln_1300": ("PLN 1.300 VA", "PLN 1,300 VA"),
        "pln_2200_plus": ("PLN 2.200 VA ke atas", "PLN 2,200 VA or more"),
    },
    "cooking_fuel": {
        "kayu_arang": ("Kayu/arang", "Wood/charcoal"),
        "minyak_tanah": ("Minyak tanah", "Kerosene"),
        "gas_3kg": ("Gas 3 kg", "LPG 3 kg"),
        "gas_besar": ("Gas tabung besar", "LPG, large cylinder"),
        "listrik": ("Listrik", "Electricity"),
    },
    "tenure": {
        "milik_sendiri": ("Milik sendiri", "Owned"),
        "kontrak_sewa": ("Kontrak/sewa", "Rented"),
        "bebas_sewa": ("Bebas sewa", "Rent-free"),
        "dinas": ("Dinas", "Official housing"),
        "lainnya": ("Lainnya", "Other"),
    },
    "sex": {"L": ("Laki-laki", "Male"), "P": ("Perempuan", "Female")},
    "relationship": {
        "kepala_keluarga": ("Kepala keluarga", "Head of family"),
        "istri_suami": ("Istri/suami", "Wife/husband"),
        "anak": ("Anak", "Child"),
        "menantu": ("Menantu", "Child-in-law"),
        "cucu": ("Cucu", "Grandchild"),
        "orang_tua": ("Orang tua", "Parent"),
        "mertua": ("Mertua", "Parent-in-law"),
        "famili_lain": ("Famili lain", "Other relative"),
        "lainnya": ("Lainnya", "Other"),
    },
    "marital_status": {
        "belum_kawin": ("Belum kawin", "Never married"),
        "kawin": ("Kawin", "Married"),
        "cerai_hidup": ("Cerai hidup", "Divorced"),
        "cerai_mati": ("Cerai mati", "Widowed"),
    },
    "education": {
        "tidak_sekolah": ("Tidak sekolah", "No schooling"),
        "sd": ("SD", "Primary school"),
        "smp": ("SMP", "Junior high school"),
        "sma": ("SMA", "Senior high school"),
        "diploma": ("Diploma", "Diploma"),
        "sarjana": ("Sarjana", "University degree"),
    },
    "school_level": {
        "tidak": ("Tidak sekolah", "Not in school"),
        "paud": ("PAUD", "Pre-school"),
        "sd": ("SD", "Primary school"),
        "smp": ("SMP", "Junior high school"),
        "sma": ("SMA", "Senior high school"),
        "pt": ("Perguruan tinggi", "University"),
    },
    "occupation": {
        "tidak_bekerja": ("Tidak bekerja", "Not working"),
        "petani": ("Petani", "Farmer"),
        "nelayan": ("Nelayan", "Fisher"),
        "buruh": ("Buruh", "Labourer"),
        "pedagang": ("Pedagang", "Trader"),
        "wiraswasta": ("Wiraswasta", "Self-employed"),
        "karyawan_swasta": ("Karyawan swasta", "Private employee"),
        "pns_tni_polri": ("PNS/TNI/Polri", "Civil servant/military/police"),
        "lainnya": ("Lainnya", "Other"),
    },
    "disability": {
        "tidak_ada": ("Tidak ada", "None"),
        "fisik": ("Fisik", "Physical"),
        "netra": ("Netra", "Visual"),
        "rungu_wicara": ("Rungu/wicara", "Hearing/speech"),
        "mental": ("Mental", "Mental"),
        "intelektual": ("Intelektual", "Intellectual"),
        "ganda": ("Ganda", "Multiple"),
    },
    "disability_severity": {
        "tidak_ada": ("Tidak ada", "None"),
        "ringan": ("Ringan", "Mild"),
        "sedang": ("Sedang", "Moderate"),
        "berat": ("Berat", "Severe"),
    },
}

# The features a PMT model and a program rule name (targeting/vocabulary.py), and the terms of
# a model's score, as the explanation labels them. A test checks every feature has one.
_FEATURES: dict[str, tuple[str, str]] = {
    "hh_size": ("Jumlah anggota keluarga", "Household size"),
    **{
        name: (
            f"Anggota usia {low}–{high} tahun" if high else f"Anggota usia {low}+ tahun",
            f"Members aged {low}–{high}" if high else f"Members aged {low}+",
        )
        for name, (low, high) in AGE_BANDS.items()
    },
    **{
        name: (
            f"Anggota bersekolah: {_VALUES['school_level'][level][0]}",
            f"Members in school: {_VALUES['school_level'][level][1].lower()}",
        )
        for name, level in SCHOOL_COUNTS.items()
    },
    "n_pregnant": ("Anggota sedang hamil", "Pregnant members"),
    "n_disability": ("Anggota penyandang disabilitas", "Members with a disability"),
    "n_severe_disability": ("Anggota dengan disabilitas berat", "Members with a severe disability"),
    "n_working": ("Anggota yang bekerja", "Members working"),
    "head_age": ("Umur kepala keluarga", "Age of the head"),
    **{
        f"head_{column}": (
            f"{_FIELDS[column][0]} kepala keluarga",
            f"Head's {_FIELDS[column][1].lower()}",
        )
        for column in HEAD_COLUMNS
    },
    "floor_area_per_person": ("Luas lantai per orang (m²)", "Floor area per person (m²)"),
    **{
        column: _FIELDS[column]
        for column in (
            "floor_area_m2",
            *HOUSEHOLD_ENUMS,
            *HOUSEHOLD_FLAGS,
            *HOUSEHOLD_COUNTS,
            *MEMBER_ENUMS,
            "pregnant",
        )
    },
    "province_code": ("Provinsi", "Province"),
    "regency_code": ("Kabupaten/kota", "Regency/city"),
    "score": ("Skor PMT", "PMT score"),
    "decile": ("Desil", "Decile"),
    "age": ("Umur", "Age"),
    # Terms of a score that are no feature: the constant, and a model's area effects.
    "intercept": ("Konstanta", "Intercept"),
    "area_province": ("Efek provinsi", "Province effect"),
    "area_regency": ("Efek kabupaten/kota", "Regency effect"),
}

# The benefit components of the shipped programs (programs/definitions/*.yaml), and the one
# component of a flat or per-person benefit (cycles/compute.py). A program run from a file of
# its own names components of its own: its definition's label stands in (Indonesian).
_COMPONENTS: dict[str, tuple[str, str]] = {
    "pregnant": ("Ibu hamil/nifas", "Pregnant or postpartum mother"),
    "early_childhood": ("Anak usia dini (0–6 tahun)", "Young child (0–6)"),
    "school_sd": ("Anak sekolah SD/sederajat", "Primary-school child"),
    "school_smp": ("Anak sekolah SMP/sederajat", "Junior-high-school child"),
    "school_sma": ("Anak sekolah SMA/sederajat", "Senior-high-school child"),
    "severe_disability": ("Penyandang disabilitas berat", "Person with a severe disability"),
    "elderly": ("Lanjut usia (70 tahun ke atas)", "Elderly person (70 and over)"),
    "bantuan": ("Bantuan keluarga", "Family benefit"),
    "per_orang": ("Bantuan per orang", "Benefit per person"),
}

_PAIRS: dict[str, tuple[str, str]] = {
    "app.name": ("Lumbung", "Lumbung"),
    "app.footer": (
        "Lumbung · Registri sosial dan penyaluran bantuan",
        "Lumbung · Social registry and benefits delivery",
    ),
    "nav.home": ("Beranda", "Home"),
    "nav.families": ("Keluarga", "Families"),
    "nav.requests": ("Usulan", "Requests"),
    "nav.import": ("Impor", "Import"),
    "nav.releases": ("Rilis", "Releases"),
    "nav.cycles": ("Siklus", "Cycles"),
    "nav.audit": ("Jejak audit", "Audit trail"),
    "nav.users": ("Pengguna", "Users"),
    "nav.signout": ("Keluar", "Sign out"),
    "region.national": ("nasional", "national"),
    "role.operator": ("operator desa", "village operator"),
    "role.verifier": ("verifikator", "verifier"),
    "role.determiner": ("penetap", "determiner"),
    "role.admin": ("admin", "admin"),
    "role.auditor": ("auditor", "auditor"),
    "error.403": ("Tidak diizinkan", "Not allowed"),
    "error.404": ("Tidak ditemukan", "Not found"),
    "error.other": ("Tidak bisa diproses", "Could not be done"),
    "error.csrf": (
        "Formulir ini kedaluwarsa atau tidak berasal dari halaman Lumbung. Muat ulang "
        "halamannya lalu kirim lagi.",
        "This form has expired or did not come from a Lumbung page. Reload the page and "
        "send it again.",
    ),
    "error.role": (
        "Peran {role} tidak boleh membuka halaman ini.",
        "The role {role} may not open this page.",
    ),
    "signin.title": ("Masuk", "Sign in"),
    "signin.username": ("Nama pengguna", "Username"),
    "signin.password": ("Kata sandi", "Password"),
    "signin.submit": ("Masuk", "Sign in"),
    "totp.title": ("Kode verifikasi", "Verification code"),
    "totp.explain": (
        "Masukkan kode 6 angka dari aplikasi autentikator Anda.",
        "Enter the 6-digit code from your authenticator app.",
    ),
    "totp.code": ("Kode 6 angka", "6-digit code"),
    "totp.submit": ("Verifikasi", "Verify"),
    "enrol.title": ("Pasang autentikator", "Set up your authenticator"),
    "enrol.explain": (
        "Peran Anda wajib memakai verifikasi dua langkah. Pindai kode QR ini dengan aplikasi "
        "autentikator (Google Authenticator, Aegis, FreeOTP, …) atau ketik kuncinya, lalu "
        "masukkan kode yang muncul.",
        "Your role must use two-step verification. Scan this QR code with an authenticator "
        "app (Google Authenticator, Aegis, FreeOTP, …) or type the key, then enter the code "
        "it shows.",
    ),
    "enrol.secret": ("Kunci:", "Key:"),
    "enrol.submit": ("Aktifkan", "Turn on"),
    "password.title": ("Ganti kata sandi", "Change password"),
    "password.forced": (
        "Kata sandi Anda diatur oleh admin: pilih kata sandi baru sebelum melanjutkan.",
        "Your password was set by an admin: choose a new one before going on.",
    ),
    "password.old": ("Kata sandi sekarang", "Current password"),
    "password.new": ("Kata sandi baru", "New password"),
    "password.hint": (
        "minimal {n} karakter, bukan nama pengguna",
        "at least {n} characters, not your username",
    ),
    "password.again": ("Ulangi kata sandi baru", "New password again"),
    "password.submit": ("Simpan", "Save"),
    "password.mismatch": (
        "Kedua isian kata sandi baru tidak sama.",
        "The two new passwords differ.",
    ),
    "password.changed": ("Kata sandi diganti.", "Your password was changed."),
    "home.title": ("Beranda", "Home"),
    "home.hello": ("Selamat datang, {name}", "Welcome, {name}"),
    "home.waiting": ("Menunggu Anda", "Waiting for you"),
    "home.nothing": ("Tidak ada yang menunggu.", "Nothing is waiting."),
    "home.queue.proposed": ("usulan menunggu verifikasi", "requests to verify"),
    "home.queue.verified": ("usulan menunggu penetapan", "requests to determine"),
    "home.mine.proposed": ("usulan wilayah Anda masih diproses", "requests still in progress"),
    "home.mine.rejected": ("usulan ditolak", "rejected requests"),
    "home.cycles.draft": ("siklus menunggu persetujuan", "cycles to approve"),
    "home.imports.errors": ("impor dengan galat", "imports with errors"),
    "home.registry": ("Registri", "Registry"),
    "home.status": ("Status", "Status"),
    "home.families": ("Keluarga", "Families"),
    "home.members": ("Anggota", "Members"),
    "home.registry.empty": (
        "Belum ada keluarga di registri wilayah ini.",
        "There are no families in this region's registry yet.",
    ),
    "home.registry.empty.import": (
        "Muat data keluarga dari desa dengan mengunggah dua berkas format pertukaran "
        "(keluarga dan anggota):",
        "Load the villages' family data by uploading the two exchange-format files "
        "(households and members):",
    ),
    "home.registry.empty.import.link": ("Impor batch", "Import a batch"),
    "home.registry.empty.others": (
        "Keluarga masuk registri lewat impor batch dari desa atau usulan keluarga baru oleh "
        "operator desa.",
        "Families enter the registry through a village's batch import or a village operator's "
        "proposal of a new family.",
    ),
    "search.title": ("Cari keluarga", "Find a family"),
    "search.query": ("NIK, nomor KK atau nama", "NIK, KK number or name"),
    "cycle.own_draft": (
        "Anda menjalankan siklus ini: penetap lain yang menyetujuinya (empat mata).",
        "You ran this cycle: another determiner approves it (four eyes).",
    ),
    "search.no_number": (
        "Tidak ada KK atau NIK {number} di wilayah Anda.",
        "No KK or NIK {number} in your region.",
    ),
    "import.rejected_shown": (
        "{shown} masalah pertama dari {total}; semuanya ada di berkas tolakan.",
        "The first {shown} problems of {total}; the reject file has them all.",
    ),
    "search.hint": (
        "NIK atau KK (16 angka), atau awal nama (minimal 3 huruf): \u201cSiti Nur\u201d "
        "menemukan Siti Nurhaliza",
        "NIK or KK (16 digits), or the start of a name (at least 3 letters): \u201cSiti Nur\u201d "
        "finds Siti Nurhaliza",
    ),
    "search.region": ("Wilayah (opsional)", "Region (optional)"),
    "search.submit": ("Cari", "Search"),
    "search.found": ("{total} ditemukan.", "{total} found."),
    "search.matches": ("Anggota yang cocok", "Matching members"),
    "pager.previous": ("Sebelumnya", "Previous"),
    "pager.next": ("Berikutnya", "Next"),
    "pager.showing": ("{first}–{last} dari {total}", "{first}–{last} of {total}"),
    "family.title": ("Keluarga", "Family"),
    "family.version": ("Versi data", "Data version"),
    "family.village": ("Desa/kelurahan", "Village"),
    "family.desil": ("Desil", "Decile"),
    "family.desil.none": ("belum dihitung", "not scored yet"),
    "family.scores": ("Skor PMT dan desil", "PMT score and decile"),
    "family.scores.none": (
        "Keluarga ini belum ada dalam penghitungan skor PMT mana pun.",
        "This family is in no PMT scoring yet.",
    ),
    "family.scored_at": ("Dihitung", "Scored"),
    "family.entitlements": ("Hak bantuan per siklus", "Entitlements by cycle"),
    "family.entitlements.none": (
        "Keluarga ini tidak mendapat bantuan di siklus mana pun.",
        "This family is entitled in no cycle.",
    ),
    "family.period": ("Periode", "Period"),
    "family.period.value": ("{start}, {months} bulan", "{start}, {months} month(s)"),
    "family.beneficiary": ("Penerima", "Beneficiary"),
    "family.beneficiary.family": ("keluarga", "the family"),
    "family.cycles": ("Siklus", "Cycles"),
    "family.masked": (
        "NIK dan nama anggota disamarkan: peran Anda tidak berhak melihatnya utuh.",
        "Members' NIKs and names are masked: your role is not entitled to see them in full.",
    ),
    "family.members": ("Anggota keluarga", "Members"),
    "family.head": ("Kepala keluarga", "Head of family"),
    "family.housing": ("Rumah dan aset", "Housing and assets"),
    "family.open_requests": ("Usulan terbuka", "Open requests"),
    "family.programs": ("Program dan hak bantuan", "Programs and entitlements"),
    "family.history": ("Riwayat", "History"),
    "form.problem": ("Ada yang perlu diperbaiki", "There is a problem"),
    "form.problem.fields": (
        "Usulan belum dikirim. Perbaiki kolom berikut:",
        "The proposal was not sent. Correct these fields:",
    ),
    "propose.member_number": ("Anggota ke-{number}", "Member {number}"),
    "form.warnings": ("Catatan pemeriksaan", "Notes from the checks"),
    "form.required": ("Wajib diisi.", "Required."),
    "propose.kind.new_family": ("Usulkan keluarga baru", "Propose a new family"),
    "propose.kind.update": ("Ubah data rumah", "Change housing data"),
    "propose.kind.update_member": ("Ubah data anggota", "Change a member"),
    "propose.kind.add_member": ("Tambah anggota", "Add a member"),
    "propose.kind.remove_member": ("Keluarkan anggota", "Remove a member"),
    "propose.kind.exit": ("Keluarkan keluarga dari registri", "Take the family out"),
    "propose.kind.update_account": ("Ganti rekening bank", "Change the bank account"),
    "propose.account.hint": (
        "Rekening baru (KKS) keluarga: menggantikan rekening aktif setelah diverifikasi dan "
        "ditetapkan. Pembayaran yang gagal dikirim ulang ke rekening baru.",
        "The family's new account (KKS): it replaces the active one once verified and "
        "determined. Failed payments are sent again to the new account.",
    ),
    "propose.account.bank": ("Bank", "Bank"),
    "propose.account.account_number": ("Nomor rekening", "Account number"),
    "propose.account.card_number": ("Nomor kartu KKS (boleh kosong)", "KKS card number (optional)"),
    "propose.version": (
        "Usulan dibuat atas data versi {version}.",
        "The request is made on data version {version}.",
    ),
    "propose.update.hint": (
        "Isi hanya kolom yang berubah; yang kosong tetap.",
        "Fill in only what changes; empty fields stay as they are.",
    ),
    "propose.member": ("Anggota", "Member"),
    "propose.changes": ("Perubahan", "Changes"),
    "propose.new_member": ("Anggota baru", "New member"),
    "propose.member_n": ("Anggota {n}", "Member {n}"),
    "propose.more_members": ("Tambah isian anggota", "Add a member row"),
    "propose.remove.status": ("Alasan keluar", "Why they leave"),
    "propose.remove.new_head": ("Kepala keluarga baru", "New head of family"),
    "propose.remove.new_head.hint": (
        "wajib bila yang keluar kepala keluarga",
        "required when the head leaves",
    ),
    "propose.exit.reason": ("Alasan", "Reason"),
    "propose.submit": ("Kirim usulan", "Send the request"),
    "member.status.deceased": ("meninggal", "deceased"),
    "member.status.moved": ("pindah", "moved"),
    "member.status.removed": ("dihapus (salah data)", "removed (wrong data)"),
    "queue.title": ("Usulan perubahan", "Change requests"),
    "queue.all": ("semua", "all"),
    "queue.kind": ("Jenis", "Kind"),
    "queue.proposed_by": ("Diusulkan oleh", "Proposed by"),
    "queue.decide": ("Putuskan yang dicentang", "Decide the ticked ones"),
    "queue.reason": ("Alasan", "Reason"),
    "queue.reason.hint": ("wajib untuk penolakan", "required to reject"),
    "queue.accept.proposed": ("Verifikasi", "Verify"),
    "queue.accept.verified": ("Tetapkan", "Determine"),
    "queue.reject": ("Tolak", "Reject"),
    "queue.done": ("{count} usulan diputuskan.", "{count} requests decided."),
    "queue.none_selected": ("Centang minimal satu usulan.", "Tick at least one request."),
    "queue.reason_needed": ("Penolakan wajib disertai alasan.", "A rejection needs a reason."),
    "request.state.proposed": ("diusulkan", "proposed"),
    "request.state.verified": ("terverifikasi", "verified"),
    "request.state.approved": ("ditetapkan", "determined"),
    "request.state.rejected": ("ditolak", "rejected"),
    "request.title": ("Usulan #{id}", "Request #{id}"),
    "request.created": ("Usulan tercatat.", "The request was recorded."),
    "request.verified_by": ("Diverifikasi oleh", "Verified by"),
    "request.decided_by": ("Diputuskan oleh", "Decided by"),
    "request.payload": ("Yang diusulkan", "What is proposed"),
    "request.field": ("Isian", "Field"),
    "request.proposed": ("Diusulkan", "Proposed"),
    "request.now": ("Sekarang", "Now"),
    "request.before": ("Sebelum", "Before"),
    "request.part.family": ("Keluarga", "Family"),
    "request.part.member": ("Anggota", "Member"),
    "request.part.new_member": ("Anggota baru", "New member"),
    "request.part.leaving": ("Anggota yang keluar", "Member leaving"),
    "request.part.exit": ("Keluarga keluar dari registri", "The family leaves the registry"),
    "request.part.account": ("Rekening baru", "The new account"),
    "family.accounts": ("Rekening bank", "Bank accounts"),
    "family.payments": ("Pembayaran", "Payments"),
    "family.payments.none": ("Belum ada pembayaran.", "No payment yet."),
    "family.payments.open": (
        "Lihat pembayaran dan rekening bank",
        "See payments and bank accounts",
    ),
    "family.back": ("Kembali ke keluarga", "Back to the family"),
    "family.payments.id": ("Id pembayaran", "Payment id"),
    "family.payments.answer": ("Jawaban mitra", "The partner's answer"),
    "family.accounts.none": ("Belum ada rekening.", "No account yet."),
    "family.accounts.opened": ("Dibuka", "Opened"),
    "family.accounts.closed": ("Ditutup", "Closed"),
    "family.accounts.active": ("aktif", "active"),
    "family.accounts.closed_state": ("ditutup", "closed"),
    "request.changed.title": (
        "Keluarga ini berubah sejak usulan dibuat",
        "This family changed since the request was made",
    ),
    "request.changed.explain": (
        "Usulan dibuat atas data keluarga versi {base}, dan data itu sudah berubah sejak itu "
        "(usulan lain ditetapkan). Usulan ini tidak bisa lagi diverifikasi atau ditetapkan: "
        "menetapkannya akan menimpa perubahan yang sudah ditetapkan.",
        "The request was made on version {base} of the family's data, which has changed since "
        "(another request was determined). It can no longer be verified or determined: "
        "determining it would overwrite a change already determined.",
    ),
    "request.changed.todo": (
        "Tolak usulan ini dengan alasan bahwa data keluarga sudah berubah; operator desa lalu "
        "mengajukannya lagi atas data terbaru.",
        "Reject it, giving as the reason that the family's data has changed; the village "
        "operator then proposes it again on the current data.",
    ),
    "queue.refused": (
        "Usulan yang tidak bisa diputuskan",
        "Requests that could not be decided",
    ),
    "queue.changed": (
        "{count} usulan di halaman ini menunggu atas keluarga yang sudah berubah sejak "
        "diusulkan: tidak bisa diverifikasi atau ditetapkan lagi. Tolak dengan alasan itu; "
        "operator desa lalu mengajukannya lagi atas data terbaru.",
        "{count} request(s) on this page wait on a family that changed since they were made: "
        "they can no longer be verified or determined. Reject them with that reason; the "
        "village operator then proposes them again on the current data.",
    ),
    "queue.changed.tag": ("keluarga berubah", "family changed"),
    "refusal.family_changed": (
        "Keluarga berubah sejak usulan dibuat (usulan lain ditetapkan): tolak usulan ini dengan "
        "alasan itu, lalu ajukan ulang atas data terbaru.",
        "The family changed since the request was made (another request was determined): "
        "reject this one with that reason, then propose it again on the current data.",
    ),
    "refusal.request_altered": (
        "Isi usulan tidak lagi sama dengan yang diajukan (diubah di luar Lumbung): tolak "
        "usulan ini dan minta admin memeriksa jejak audit.",
        "The request no longer holds what was proposed (it was changed outside Lumbung): "
        "reject it and ask an admin to check the audit trail.",
    ),
    "refusal.request_decided": (
        "Usulan ini sudah diputuskan.",
        "This request was already decided.",
    ),
    "refusal.conflict": (
        "Usulan ini tidak bisa diputuskan sekarang; buka usulannya untuk melihat sebabnya.",
        "This request cannot be decided now; open it to see why.",
    ),
    "refusal.not_found": ("Usulan tidak ada di wilayah Anda.", "No such request in your region."),
    "refusal.permission_denied": (
        "Peran Anda tidak boleh memutuskan usulan ini.",
        "Your role may not decide this request.",
    ),
    "refusal.validation_failed": (
        "Keputusan ini tidak lengkap atau tidak sah; buka usulannya dan coba lagi.",
        "The decision was incomplete or invalid; open the request and try again.",
    ),
    "import.title": ("Impor batch", "Import a batch"),
    "import.explain": (
        "Unggah dua berkas format pertukaran: keluarga dan anggota. Baris yang salah ditolak "
        "dan dicantumkan di berkas tolakan; baris lain tetap dimuat.",
        "Upload the two exchange-format files: households and members. Wrong rows are "
        "rejected and listed in a reject file; the other rows are loaded.",
    ),
    "import.files": ("Berkas", "Files"),
    "import.files.hint": (
        "dua berkas: households dan members, CSV atau XLSX",
        "two files: households and members, CSV or XLSX",
    ),
    "import.submit": ("Unggah dan periksa", "Upload and check"),
    "import.link": (
        "Cocokkan dulu dengan rilis terakhir: baris yang kemungkinan orang yang sudah "
        "terdaftar diberi peringatan dan pasangannya dikirim ke antrean tinjauan",
        "Link against the latest release first: rows that are probably people already "
        "registered are warned and their pairs sent to the review queue",
    ),
    "import.probable_duplicates": (
        "Kemungkinan duplikat (rilis terakhir)",
        "Probable duplicates (latest release)",
    ),
    "import.pairs_queued": ("Pasangan masuk antrean tinjauan", "Pairs sent to review"),
    "import.recent": ("Impor terakhir", "Recent imports"),
    "import.two_files": (
        "Pilih dua berkas: keluarga (households) dan anggota (members).",
        "Choose two files: households and members.",
    ),
    "import.file_type": (
        "Berkas {name}: hanya CSV atau XLSX.",
        "File {name}: only CSV or XLSX.",
    ),
    "import.households_accepted": ("Keluarga diterima", "Households accepted"),
    "import.members_accepted": ("Anggota diterima", "Members accepted"),
    "import.households_rejected": ("Keluarga ditolak", "Households rejected"),
    "import.members_rejected": ("Anggota ditolak", "Members rejected"),
    "import.duplicates_for_review": ("Duplikat untuk ditinjau", "Duplicates to review"),
    "import.errors_total": ("Galat", "Errors"),
    "import.col.file": ("Berkas", "File"),
    "import.col.row": ("Baris", "Row"),
    "import.col.column": ("Kolom", "Column"),
    "import.col.code": ("Kode", "Code"),
    "import.col.message": ("Keterangan", "Message"),
    "import.download": ("Unduh berkas tolakan", "Download the reject file"),
    "import.rejected_rows": ("Baris yang ditolak", "Rejected rows"),
    "job.title": ("Pekerjaan", "Job"),
    "job.open": ("buka", "open"),
    "job.wait": (
        "Halaman ini diperbarui sendiri; Anda boleh menutupnya, pekerjaan tetap berjalan.",
        "This page updates itself; you may close it, the job goes on.",
    ),
    "job.kind.import": ("Impor batch", "Import"),
    "job.kind.release": ("Rilis registri", "Release"),
    "job.kind.score": ("Skor PMT dan desil", "PMT scores and deciles"),
    "job.kind.cycle_run": ("Hitung siklus", "Cycle run"),
    "job.state.queued": ("antre", "queued"),
    "job.state.running": ("berjalan", "running"),
    "job.state.succeeded": ("selesai", "finished"),
    "job.state.failed": ("gagal", "failed"),
    "release.title": ("Rilis", "Releases"),
    "release.create": ("Buat rilis", "Make a release"),
    "release.label": ("Label rilis", "Release label"),
    "release.decree": ("Nomor SK", "Decree number"),
    "release.submit": ("Buat rilis", "Make the release"),
    "release.score": ("Hitung skor", "Score"),
    "release.none": ("Belum ada rilis.", "No release yet."),
    "cycle.title": ("Siklus penyaluran", "Benefit cycles"),
    "cycle.one": ("Siklus", "Cycle"),
    "cycle.open": ("Buka siklus", "Open the cycle"),
    "cycle.run": ("Jalankan siklus", "Run a cycle"),
    "cycle.run.submit": ("Hitung", "Compute"),
    "cycle.run.replace": (
        "Ganti draf yang sudah memakai label ini (tanpa centang, label yang sudah ada ditolak)",
        "Replace the draft that already has this label (unticked, a label in use is refused)",
    ),
    "cycle.label": ("Label siklus", "Cycle label"),
    "cycle.program": ("Program", "Program"),
    "cycle.model": ("Model PMT", "PMT model"),
    "cycle.beneficiaries": ("Penerima", "Beneficiaries"),
    "cycle.total": ("Total", "Total"),
    "cycle.amount": ("Nilai", "Amount"),
    "cycle.none": ("Belum ada siklus.", "No cycle yet."),
    "cycle.unit.household": (
        "Penerima program ini keluarga, dikenali dengan nomor KK.",
        "This program's beneficiaries are families, known by their KK number.",
    ),
    "cycle.totals": ("Total per wilayah", "Totals by region"),
    "cycle.chart": ("Total bantuan per {level}", "Total benefits by {level}"),
    "cycle.four_eyes": (
        "Empat mata: siklus disetujui oleh penetap nasional selain yang menjalankannya.",
        "Four eyes: a national determiner other than the one who ran it approves the cycle.",
    ),
    "cycle.approve": ("Setujui siklus", "Approve the cycle"),
    "cycle.approved": ("Siklus disetujui.", "The cycle was approved."),
    # After the check's own sentence on the cycle's page (it ends with its full stop).
    "cycle.check_amounts": ("Rinciannya", "In rupiah"),
    "cycle.delivery": (
        "Penyaluran: batch, rekening, hasil",
        "Delivery: batches, accounts, results",
    ),
    "delivery.title": ("Penyaluran siklus", "Delivery of cycle"),
    "delivery.back": ("Kembali ke siklus", "Back to the cycle"),
    "delivery.check": ("Ke mana setiap rupiah", "Where every rupiah stands"),
    "delivery.check_ok": (
        "Cocok: hak = dibayar + gagal + retur + tertunda + batal, dan buku besar pembayaran sama "
        "dengan jejak audit.",
        "Adds up: entitled = paid + failed + returned + pending + cancelled, and the payment "
        "ledger matches the audit trail.",
    ),
    "delivery.check_bad": ("Tidak cocok", "Does not add up"),
    "delivery.state": ("Status", "State"),
    "delivery.entitlements": ("Hak", "Entitlements"),
    "delivery.entitled": ("Hak (siklus)", "Entitled (the cycle)"),
    "delivery.state.paid": ("dibayar", "paid"),
    "delivery.state.failed": ("gagal", "failed"),
    "delivery.state.returned": ("retur", "returned"),
    "delivery.state.pending": ("tertunda", "pending"),
    "delivery.state.cancelled": ("batal", "cancelled"),
    "delivery.state.unbatched": ("belum dibatch", "not in a batch yet"),
    "delivery.state.in_flight": ("dalam proses di mitra", "with the partner"),
    "delivery.openings": ("Pembukaan rekening kolektif", "Collective account opening"),
    "delivery.openings_hint": (
        "Keluarga tanpa rekening dimintakan ke bank wilayahnya; jawaban bank dicatat per baris.",
        "Families without an account are asked for at their region's bank; the bank's answer "
        "is recorded row by row.",
    ),
    "delivery.bank": ("Bank", "Bank"),
    "delivery.requested": ("Diminta", "Requested"),
    "delivery.opened_n": ("Dibuka", "Opened"),
    "delivery.failed_n": ("Gagal", "Failed"),
    "delivery.waiting": ("Menunggu", "Waiting"),
    "delivery.download": ("Unduh berkas untuk bank", "Download the bank's file"),
    "delivery.open": ("Minta pembukaan rekening", "Ask for accounts"),
    "delivery.answer_for": ("Jawaban untuk pembukaan", "Answer to opening"),
    "delivery.answer_file": ("Berkas jawaban bank (CSV)", "The bank's answer (CSV)"),
    "delivery.answer": ("Catat jawaban", "Record the answer"),
    "delivery.answer_missing": (
        "Pilih pembukaan rekening dan berkas jawaban bank.",
        "Choose the opening and the bank's answer file.",
    ),
    "delivery.answer_summary": (
        "{rows} baris: {opened} rekening dibuka, {failed} gagal, {unchanged} sudah tercatat, "
        "{rejected} ditolak.",
        "{rows} rows: {opened} accounts opened, {failed} failed, {unchanged} already recorded, "
        "{rejected} refused.",
    ),
    "delivery.row": ("Baris", "Row"),
    "delivery.batches": ("Batch pembayaran", "Payment batches"),
    "delivery.number": ("No.", "No."),
    "delivery.partner": ("Mitra", "Partner"),
    "delivery.payments": ("Pembayaran", "Payments"),
    "delivery.by_state": ("Per status", "By state"),
    "delivery.batch.draft": ("draf", "draft"),
    "delivery.batch.approved": ("disetujui", "approved"),
    "delivery.batch.cancelled": ("dibatalkan", "cancelled"),
    "delivery.approve": ("Setujui batch", "Approve the batch"),
    "delivery.own_batch": (
        "Batch ini Anda buat; penetap lain yang menyetujui.",
        "You made this batch; another determiner approves it.",
    ),
    "delivery.reason": ("Alasan", "Reason"),
    "delivery.cancel": ("Batalkan", "Cancel"),
    "delivery.bpjs_list": ("Unduh daftar PBI-JKN", "Download the PBI-JKN list"),
    "delivery.no_batches": ("Belum ada batch.", "No batch yet."),
    "delivery.create": ("Buat batch", "Make batches"),
    "delivery.create_hint": (
        "Setiap hak yang belum dibayar atau dalam proses masuk batch per mitra; orang lain "
        "menyetujuinya (empat mata).",
        "Every entitlement not paid nor in flight goes into a batch per partner; someone else "
        "approves it (four eyes).",
    ),
    "delivery.not_approved": (
        "Siklus ini belum disetujui: belum bisa dibayar.",
        "This cycle is not approved yet: it cannot be paid.",
    ),
    "delivery.created": ("Batch dibuat.", "Batches made."),
    "delivery.nothing": ("Tidak ada hak yang perlu dibatch.", "No entitlement left to batch."),
    "delivery.opened": ("Pembukaan rekening diminta.", "Accounts asked for."),
    "delivery.nothing_to_open": (
        "Semua keluarga sudah punya rekening atau sedang diminta.",
        "Every family has an account or one asked for.",
    ),
    "delivery.approved": ("Batch disetujui dan dibekukan.", "The batch is approved and frozen."),
    "delivery.cancelled": ("Batch dibatalkan.", "The batch was cancelled."),
    "delivery.unknown_action": ("Tindakan tidak dikenal.", "Unknown action."),
    "delivery.bank_file": ("Unduh berkas bank", "Download the bank file"),
    "delivery.awaiting_seal": (
        "{n} penukaran voucher menunggu segel kelompoknya di jejak audit (paling lama sekitar "
        "satu detik selama loket bekerja).",
        "{n} voucher redemptions await their group seal in the audit trail (about a second "
        "while counters work).",
    ),
    "delivery.status_title": ("Jawaban mitra", "Partners' answers"),
    "delivery.status_file": (
        "Laporan status bank (pain.002 XML atau CSV)",
        "The bank's status report (pain.002 XML or CSV)",
    ),
    "delivery.status_record": ("Catat hasil pembayaran", "Record the payments' results"),
    "delivery.status_missing": ("Pilih berkas laporan status.", "Choose the status file."),
    "delivery.status_summary": (
        "{rows} baris: dibayar {paid}, gagal {failed}, retur {returned}; {unchanged} sudah "
        "tercatat; {rejected} ditolak.",
        "{rows} rows: paid {paid}, failed {failed}, returned {returned}; {unchanged} already "
        "recorded; {rejected} refused.",
    ),
    "level.province": ("provinsi", "province"),
    "level.regency": ("kabupaten/kota", "regency/city"),
    "explain.title": ("Penjelasan hak bantuan", "Why this family got what it got"),
    "explain.link": ("jelaskan", "explain"),
    "explain.outcome": ("Hasil", "Outcome"),
    "explain.eligible": ("Memenuhi syarat", "Eligible"),
    "explain.entitled": ("Mendapat bantuan", "Entitled"),
    "explain.amount_idr": ("Nilai", "Amount"),
    "explain.decile": ("Desil di kab/kota", "Decile in the regency"),
    "explain.score": ("Skor PMT", "PMT score"),
    "explain.rank_in_regency": ("Peringkat di kab/kota", "Rank in the regency"),
    "explain.regency_households": ("Keluarga di kab/kota", "Families in the regency"),
    "explain.model": ("Model PMT", "PMT model"),
    "explain.release": ("Rilis", "Release"),
    "explain.reference_date": ("Tanggal acuan", "Reference date"),
    "audit.title": ("Jejak audit", "Audit trail"),
    "audit.at": ("Waktu", "Time"),
    "audit.actor": ("Pelaku", "Actor"),
    "audit.channel": ("Saluran", "Channel"),
    "audit.action": ("Tindakan", "Action"),
    "audit.entity": ("Entitas", "Entity"),
    "audit.reason": ("Alasan", "Reason"),
    "users.title": ("Pengguna dan token", "Users and tokens"),
    "users.name": ("Nama lengkap", "Full name"),
    "users.role": ("Peran", "Role"),
    "users.region": ("Wilayah", "Region"),
    "users.region.hint": ("kosong = nasional", "empty = national"),
    "users.active": ("aktif", "active"),
    "users.inactive": ("tidak aktif", "inactive"),
    "users.create": ("Pengguna baru", "New user"),
    "users.create.submit": ("Buat", "Create"),
    "users.first_password": ("Kata sandi awal", "First password"),
    "users.new_password": ("Kata sandi baru", "New password"),
    "users.manage": ("Kelola pengguna", "Manage a user"),
    "users.set_password": ("Atur kata sandi", "Set password"),
    "users.activate": ("Aktifkan", "Activate"),
    "users.reset_totp": ("Hapus TOTP (ponsel hilang)", "Reset TOTP (lost phone)"),
    "users.totp_reset": (
        "TOTP {username} dihapus; ia mendaftar lagi saat masuk berikutnya.",
        "{username}'s TOTP was reset; they enrol again at their next sign-in.",
    ),
    "users.deactivate": ("Nonaktifkan", "Deactivate"),
    "users.bad_role": ("Peran tidak dikenal.", "Unknown role."),
    "users.created": (
        "Pengguna {username} dibuat; ia wajib mengganti kata sandi saat masuk pertama.",
        "User {username} was created; they must change the password at first sign-in.",
    ),
    "users.password_set": (
        "Kata sandi {username} diatur; ia wajib menggantinya saat masuk.",
        "The password of {username} was set; they must change it at sign-in.",
    ),
    "users.activated": ("{username} diaktifkan.", "{username} was activated."),
    "users.deactivated": ("{username} dinonaktifkan.", "{username} was deactivated."),
    "tokens.title": ("Token API", "API tokens"),
    "tokens.name": ("Nama token", "Token name"),
    "tokens.prefix": ("Awalan", "Prefix"),
    "tokens.expires": ("Berlaku sampai", "Expires"),
    "tokens.days": ("Berlaku (hari)", "Valid (days)"),
    "tokens.issue": ("Terbitkan token", "Issue a token"),
    "tokens.issue.submit": ("Terbitkan", "Issue"),
    "tokens.issued": ("Token diterbitkan.", "The token was issued."),
    "tokens.once": (
        "Salin token ini sekarang: tidak akan ditampilkan lagi.",
        "Copy this token now: it will not be shown again.",
    ),
    "tokens.revoke": ("Cabut token", "Revoke a token"),
    "tokens.revoke.submit": ("Cabut", "Revoke"),
    "tokens.revoked_named": ("Token {name} dicabut.", "The token {name} was revoked."),
    "tokens.last_used": ("Terakhir dipakai", "Last used"),
    "tokens.never_used": ("belum pernah", "never"),
    "tokens.none": ("Belum ada token.", "No tokens yet."),
    "tokens.reason_placeholder": ("alasan", "reason"),
    "tokens.mine": ("Token API saya", "My API tokens"),
    "tokens.mine.explain": (
        "Token yang diterbitkan admin atas nama Anda. Cabut token yang bocor atau tidak "
        "dipakai lagi; token baru diminta kepada admin.",
        "The tokens an admin issued in your name. Revoke one that leaked or is no longer "
        "used; ask an admin for a new one.",
    ),
    "nav.my_tokens": ("Token saya", "My tokens"),
    "nav.merge": ("Gabung registry", "Merge a registry"),
    "tokens.state.active": ("aktif", "active"),
    "tokens.state.expired": ("kedaluwarsa", "expired"),
    "tokens.state.revoked": ("dicabut", "revoked"),
    "nav.family_queue": ("Antrean keluarga", "Family queue"),
    "home.families.proposed": ("keluarga menunggu verifikasi", "families to verify"),
    "home.families.verified": ("keluarga menunggu penetapan", "families to determine"),
    "families.title": ("Keluarga menurut status", "Families by status"),
    "families.filter": ("Tampilkan", "Show"),
    "families.done": ("{count} keluarga diputuskan.", "{count} families decided."),
    "families.none_selected": (
        "Centang minimal satu keluarga, atau pilih semua di wilayah.",
        "Tick at least one family, or choose all in the region.",
    ),
    "families.not_yours": (
        "Keluarga dengan status ini tidak diputuskan oleh peran Anda.",
        "Your role does not decide on families in this status.",
    ),
    "families.scope.ticked": ("yang dicentang", "the ticked ones"),
    "families.scope.region": (
        "semua di wilayah ini ({total} keluarga)",
        "all in this region ({total} families)",
    ),
    "family.region": ("Wilayah", "Region"),
    "result.release": ("Rilis", "Release"),
    "result.households": ("Keluarga", "Families"),
    "result.members": ("Anggota", "Members"),
    "result.manifest": ("Manifes", "Manifest"),
    "result.path": ("Folder", "Folder"),
    "result.model": ("Model PMT", "PMT model"),
    "result.regencies": ("Kabupaten/kota", "Regencies"),
    "result.by_decile": ("Keluarga per desil", "Families by decile"),
    "result.scores_file": ("Berkas skor", "Scores file"),
    "result.sha256": ("SHA-256", "SHA-256"),
    "result.engine": ("Mesin hitung", "Engine"),
    "result.already_scored": ("Sudah dihitung sebelumnya", "Scored before"),
    "result.program": ("Program", "Program"),
    "result.version": ("Versi program", "Program version"),
    "result.definition_sha256": ("SHA-256 definisi", "Definition SHA-256"),
    "result.model_sha256": ("SHA-256 model", "Model SHA-256"),
    "result.cycle": ("Siklus", "Cycle"),
    "result.state": ("Status", "Status"),
    "result.beneficiaries": ("Penerima", "Beneficiaries"),
    "result.total_idr": ("Total", "Total"),
    "result.by_component": ("Per komponen", "By component"),
    "result.enrollment": ("Kepesertaan", "Enrolment"),
    "result.file": ("Berkas", "File"),
    "result.slept": ("Detik", "Seconds"),
    "result.batch_id": ("Nomor batch", "Batch number"),
    "result.letters": ("Surat undangan", "Invitation letters"),
    "result.home_delivery": ("Diantar ke rumah", "Home delivery"),
    "result.files": ("Berkas PDF", "PDF files"),
    "result.manifest_sha256": ("SHA-256 manifes", "Manifest SHA-256"),
    "result.archive": ("Arsip ZIP", "ZIP archive"),
    "explain.regency_code": ("Kabupaten/kota", "Regency"),
    "explain.score_terms": ("Suku skor PMT", "PMT score terms"),
    "explain.features": ("Ciri keluarga", "Household features"),
    "explain.eligibility": ("Syarat", "Eligibility rule"),
    "explain.clauses": ("Bagian syarat", "Rule clauses"),
    "explain.failed_clauses": ("Syarat tidak terpenuhi", "Clauses not met"),
    "explain.components": ("Komponen bantuan", "Benefit components"),
    "explain.component_labels": ("Nama komponen", "Component names"),
    "explain.members": ("Anggota", "Members"),
    "explain.quota": ("Kuota", "Quota"),
    "explain.rule": ("Aturan", "Rule"),
    "explain.value": ("Terpenuhi", "Met"),
    "explain.persons": ("Orang", "Persons"),
    "explain.name": ("Nama", "Name"),
    "explain.nik": ("NIK", "NIK"),
    "explain.age": ("Umur", "Age"),
    "explain.counted_as": ("Dihitung sebagai", "Counted as"),
    "explain.qualifies_for": ("Memenuhi untuk", "Qualifies for"),
    "explain.level": ("Tingkat", "Level"),
    "explain.within_quota": ("Dalam kuota", "Within the quota"),
    "explain.note": ("Catatan", "Note"),
    "explain.intercept": ("Konstanta", "Intercept"),
    "explain.term": ("Suku", "Term"),
    "explain.contribution": ("Sumbangan pada skor", "Contribution to the score"),
    "explain.feature": ("Ciri", "Feature"),
    "explain.feature_value": ("Nilai", "Value"),
    "explain.met": ("Terpenuhi", "Met"),
    "explain.named": ("Ciri yang dipakai", "Features it uses"),
    "explain.component": ("Komponen", "Component"),
    "value.outcome.entitled": ("mendapat bantuan", "entitled"),
    "value.outcome.not_eligible": ("tidak memenuhi syarat", "not eligible"),
    "value.outcome.nothing_payable": (
        "memenuhi syarat, tetapi tidak ada komponen yang dibayar",
        "eligible, but no component is payable",
    ),
    "value.outcome.outside_quota": ("di luar kuota wilayah", "outside the region's quota"),
    "result.entered": ("masuk", "entered"),
    "result.stayed": ("tetap", "stayed"),
    "result.left": ("keluar", "left"),
    "value.state.draft": ("draf", "draft"),
    "value.state.approved": ("disetujui", "approved"),
    "value.head_sex.L": ("Laki-laki", "Male"),
    "value.head_sex.P": ("Perempuan", "Female"),
    "cycle.state.draft": ("draf", "draft"),
    "cycle.state.approved": ("disetujui", "approved"),
    "status.enrolled": ("terdaftar", "enrolled"),
    "status.graduated": ("lulus", "graduated"),
    "value.yes": ("Ya", "Yes"),
    "value.no": ("Tidak", "No"),
    "status.proposed": ("diusulkan", "proposed"),
    "status.verified": ("terverifikasi", "verified"),
    "status.approved": ("ditetapkan", "approved"),
    "status.rejected": ("ditolak", "rejected"),
    "status.inactive": ("tidak aktif", "inactive"),
    "status.active": ("aktif", "active"),
    "status.exited": ("keluar", "exited"),
    "status.deceased": ("meninggal", "deceased"),
    "status.moved": ("pindah", "moved"),
    "status.removed": ("dihapus", "removed"),
}

# The realisation report's page (web/reports.py, templates/report_realisation.html).
_REPORT_PAIRS: dict[str, tuple[str, str]] = {
    "nav.realisation": ("Realisasi", "Realisation"),
    "report.title": ("Realisasi penyaluran", "Payment realisation"),
    "report.intro": (
        "Hak, dibayar, gagal, retur, tertunda dan batal per siklus dan wilayah, dari buku besar "
        "pembayaran; Anda melihat wilayah Anda sendiri.",
        "Entitled, paid, failed, returned, pending and cancelled per cycle and region, from the "
        "payment ledger; you see your own region.",
    ),
    "report.no_cycles": ("Belum ada siklus.", "No cycle yet."),
    "report.choose": ("Pilih laporan", "Choose the report"),
    "report.region": ("Wilayah", "Region"),
    "report.level": ("Tingkat", "Level"),
    "report.level.default": ("satu tingkat di bawah wilayah", "one level below the region"),
    "report.level.province": ("Provinsi", "Province"),
    "report.level.regency": ("Kabupaten/kota", "Regency/city"),
    "report.level.district": ("Kecamatan", "District"),
    "report.level.village": ("Desa/kelurahan", "Village"),
    "report.cycles": ("Siklus", "Cycles"),
    "report.cycles.hint": (
        "Tanpa centang: semua siklus program yang sudah disetujui.",
        "None ticked: every approved cycle of the program.",
    ),
    "report.show": ("Tampilkan", "Show"),
    "report.unit": ("Penerima dihitung per", "Beneficiaries counted as"),
    "report.unit.household": ("keluarga", "families"),
    "report.unit.person": ("jiwa", "persons"),
    "report.download": ("Unduh", "Download"),
    "report.format.csv": ("CSV", "CSV"),
    "report.format.xlsx": ("XLSX (Excel)", "XLSX (Excel)"),
    "report.format.png": ("Grafik PNG", "PNG chart"),
    "report.format.svg": ("Grafik SVG", "SVG chart"),
    "report.chart.region": (
        "Realisasi siklus {cycle} per {level} (dibayar dari hak)",
        "Realisation of cycle {cycle} by {level} (paid of entitled)",
    ),
    "report.chart.trend": (
        "Realisasi {program} per siklus (dibayar dari hak)",
        "Realisation of {program} per cycle (paid of entitled)",
    ),
    "report.beneficiaries": ("Penerima", "Beneficiaries"),
    "report.transactions": ("Transaksi", "Transactions"),
    "report.entitled": ("Hak", "Entitled"),
    "report.paid": ("Dibayar", "Paid"),
    "report.failed": ("Gagal", "Failed"),
    "report.returned": ("Retur", "Returned"),
    "report.pending": ("Tertunda", "Pending"),
    "report.cancelled": ("Batal", "Cancelled"),
    "report.realisation": ("Realisasi", "Realisation"),
    "report.total": ("Jumlah", "Total"),
    "report.for_cycle": (
        "Realisasi penyaluran siklus ini per wilayah",
        "This cycle's payment realisation by region",
    ),
}

CATALOG: dict[str, dict[str, str]] = {
    lang: {
        **{key: pair[i] for key, pair in _PAIRS.items()},
        **{key: pair[i] for key, pair in AID_PAIRS.items()},
        **{key: pair[i] for key, pair in VOUCHER_PAIRS.items()},
        **{key: pair[i] for key, pair in CIVIL_PAIRS.items()},
        **{key: pair[i] for key, pair in LINK_PAIRS.items()},
        **{key: pair[i] for key, pair in MERGE_PAIRS.items()},
        **{key: pair[i] for key, pair in SIMULATION_PAIRS.items()},
        **{key: pair[i] for key, pair in _REPORT_PAIRS.items()},
        **{f"field.{column}": pair[i] for column, pair in _FIELDS.items()},
        **{f"feature.{name}": pair[i] for name, pair in _FEATURES.items()},
        **{f"component.{name}": pair[i] for name, pair in _COMPONENTS.items()},
        **{
            f"value.{column}.{code}": pair[i]
            for column, codes in _VALUES.items()
            for code, pair in codes.items()
        },
    }
    for i, lang in enumerate(LANGUAGES)
}


def percent(lang: str, value: float) -> str:
    """A percentage with one decimal as `lang` writes it (id 25,0; en 25.0)."""
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "id" else text


def number(lang: str, value: Any) -> str:
    """A number with thousands separators as `lang` writes them (id 9.744 and 1.234,5; en
    9,744 and 1,234.5); a float rounded to at most 4 decimals, -0 shown as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if isinstance(value, float):
        value = round(value, 4)
        if value == 0:
            value = 0.0
        text = f"{value:,.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    else:
        text = f"{value:,}"
    if lang == "id":
        text = text.translate(str.maketrans(",.", ".,"))
    return text


def rupiah(lang: str, value: Any) -> str:
    """An amount of integer rupiah as the CLI writes it (PUEBI: no space): "Rp600.000" (id),
    "Rp600,000" (en)."""
    return "-" if value is None else f"Rp{number(lang, value)}"


def label(lang: str, value: Any, column: str | None = None) -> str:
    """A value as a reader reads it: a flag Ya/Tidak (Yes/No), a code of `column` its label
    (`value.COLUMN.CODE`), a status its word (`status.CODE`), a number with separators;
    anything else (or a code without a label) as it is."""
    if isinstance(value, bool):
        return translate(lang, "value.yes" if value else "value.no")
    if column in FLAG_COLUMNS and value in (0, 1, "0", "1"):
        return translate(lang, "value.yes" if str(value) == "1" else "value.no")
    if isinstance(value, int | float):
        return number(lang, value)
    if value is None:
        return "-"
    text = str(value)
    table = CATALOG.get(lang, CATALOG[DEFAULT])
    for key in (f"value.{column}.{text}", f"status.{text}"):
        if key in table:
            return table[key]
    return text


def key_label(lang: str, key: str, *sections: str) -> str:
    """The label of a result's key: the first of `SECTION.KEY` in the catalogue, else the key
    with spaces for underscores (a key the catalogue does not know yet)."""
    table = CATALOG.get(lang, CATALOG[DEFAULT])
    for section in sections:
        if f"{section}.{key}" in table:
            return table[f"{section}.{key}"]
    return key.replace("_", " ")


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of `key` in `lang`, with `{name}` placeholders filled; an unknown key is
    shown as itself (a test keeps every key used known)."""
    text = CATALOG.get(lang, CATALOG[DEFAULT]).get(key) or CATALOG[DEFAULT].get(key, key)
    return text.format(**values) if values else text


def feature_label(lang: str, name: str) -> str:
    """A feature's or a score term's label (`feature.NAME`); an unknown one with spaces."""
    return key_label(lang, name, "feature")


def feature_value(lang: str, value: Any, name: str) -> str:
    """A feature's value as a reader reads it: the head's columns by the member column they
    come from (head_education `sd` → SD), a code or flag by its label, a number rounded."""
    column = name.removeprefix("head_") if name.startswith("head_") else name
    return label(lang, value, column)


def component_label(lang: str, name: str, defined: dict[str, str] | None = None) -> str:
    """A benefit component's label: the catalogue's (`component.NAME`), else the label its
    program's definition gives it (`defined`), else the name with spaces."""
    table = CATALOG.get(lang, CATALOG[DEFAULT])
    if f"component.{name}" in table:
        return table[f"component.{name}"]
    if defined and defined.get(name):
        return defined[name]
    return name.replace("_", " ")
