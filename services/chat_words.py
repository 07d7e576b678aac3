"""How people write on phones: chat spellings, Javanese and Madurese words, filler and question
words, for reading typed questions (`services/faq.py`). Not regency-specific: the language.

Keys are lower-case words as typed (punctuation removed, letters repeated three times or more
already cut to one); values are what they mean in standard Indonesian (a word, or several).
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


# fmt: off
SPELLINGS: dict[str, str] = {
    # question words
    "gmn": "bagaimana", "gmna": "bagaimana", "gimana": "bagaimana", "gmana": "bagaimana",
    "bgmn": "bagaimana", "gimna": "bagaimana", "gmnya": "bagaimana", "gimanakah": "bagaimana",
    "kpn": "kapan", "kpan": "kapan", "kapn": "kapan",
    "brp": "berapa", "brapa": "berapa", "brpa": "berapa", "berapah": "berapa",
    "dmn": "dimana", "dmna": "dimana", "dimn": "dimana", "mana": "dimana",
    "knp": "kenapa", "knapa": "kenapa", "ngapa": "kenapa", "napa": "apa",
    "sj": "saja", "aj": "saja", "aja": "saja", "ae": "saja", "wae": "saja", "bae": "saja",
    # negation, already, not yet
    "ga": "tidak", "gak": "tidak", "gk": "tidak", "g": "tidak", "nggak": "tidak",
    "ngga": "tidak", "ngak": "tidak", "enggak": "tidak", "engga": "tidak", "nda": "tidak",
    "ndak": "tidak", "gag": "tidak", "kagak": "tidak", "tdk": "tidak", "tak": "tidak",
    "ta": "tidak", "ora": "tidak", "mboten": "tidak", "gaada": "tidak ada",
    "gabisa": "tidak bisa", "gbs": "tidak bisa", "gpp": "tidak apa",
    "bkn": "bukan", "bukn": "bukan",
    "udh": "sudah", "udah": "sudah", "sdh": "sudah", "dah": "sudah", "sudh": "sudah",
    "wis": "sudah", "uwis": "sudah", "wes": "sudah", "sampun": "sudah", "la": "sudah",
    "blm": "belum", "blum": "belum", "belom": "belum", "blom": "belum", "durung": "belum",
    "dereng": "belum", "ghi": "masih", "gi": "masih",
    # people
    "sy": "saya", "sya": "saya", "aku": "saya", "ak": "saya", "aq": "saya", "gw": "saya",
    "gue": "saya", "gua": "saya", "engkok": "saya", "sengkok": "saya", "kaule": "saya",
    "kula": "saya", "wong": "orang", "org": "orang", "oreng": "orang",
    "sampeyan": "anda", "panjenengan": "anda", "njenengan": "anda", "kowe": "anda",
    "been": "anda", "dika": "anda",
    # can, may, must, want
    "bs": "bisa", "bsa": "bisa", "isa": "bisa", "iso": "bisa", "isoh": "bisa", "saged": "bisa",
    "blh": "boleh", "oleh": "boleh", "olle": "boleh", "ole": "boleh",
    "hrs": "harus", "hrus": "harus", "kudu": "harus", "kodu": "harus",
    "pngn": "ingin", "pengen": "ingin", "terro": "ingin",
    # joining words
    "yg": "yang", "yng": "yang", "dgn": "dengan", "dg": "dengan", "karo": "dengan",
    "utk": "untuk", "kalo": "kalau", "klo": "kalau", "kl": "kalau", "klau": "kalau",
    "nek": "kalau", "yen": "kalau", "mon": "kalau", "krn": "karena", "krna": "karena",
    "karna": "karena", "tp": "tapi", "tpi": "tapi", "jd": "jadi", "jdi": "jadi",
    "sm": "sama", "ama": "sama", "lg": "lagi", "lgi": "lagi", "jg": "juga", "jga": "juga",
    "msh": "masih", "masi": "masih", "emg": "memang", "emang": "memang",
    "dr": "dari", "trs": "terus", "trus": "terus", "sblm": "sebelum", "stlh": "setelah",
    "skrg": "sekarang", "skrng": "sekarang", "skg": "sekarang", "nnt": "nanti",
    "ntar": "nanti", "brarti": "berarti", "lebbi": "lebih", "pny": "punya", "pnya": "punya",
    "andi": "punya", "duwe": "punya", "ngerti": "tahu", "tau": "tahu",
    "pake": "pakai", "dipake": "dipakai", "bikin": "buat", "nulis": "tulis",
    "nunggu": "tunggu", "dateng": "datang", "dapet": "dapat", "keliatan": "kelihatan",
    "kegedean": "terlalu besar", "keupload": "terunggah", "upload": "unggah",
    "diupload": "diunggah", "disiapin": "disiapkan", "benerin": "perbaiki",
    "benerinnya": "perbaiki", "melu": "ikut", "ikutan": "ikut", "pinjem": "pinjam",
    "cewe": "perempuan", "cowo": "laki",
    # Javanese and Madurese: what, how, what for, how much
    "opo": "apa", "apah": "apa", "ponapa": "apa", "pripun": "bagaimana", "piye": "bagaimana",
    "kepiye": "bagaimana", "kadhi": "bagaimana", "kadi": "bagaimana", "carane": "cara",
    "carana": "cara", "piro": "berapa", "pinten": "berapa", "berempa": "berapa",
    "syarate": "syarat", "syaratte": "syarat", "dhaftar": "daftar", "daftare": "daftar",
    "dimma": "dimana", "dhimma": "dimana",
    # the subject
    "ijasah": "ijazah", "ijazahnya": "ijazah", "sertifikat": "ijazah",
    "tgl": "tanggal", "tggl": "tanggal", "bln": "bulan", "thn": "tahun", "th": "tahun",
    "umr": "umur", "daftr": "daftar", "dftr": "daftar", "pendaftarn": "pendaftaran",
    "regis": "daftar", "register": "daftar", "registrasi": "daftar", "pasword": "password",
    "pw": "password", "sandi": "password", "akunnya": "akun", "hp": "handphone",
    "negri": "negeri", "web": "website", "situs": "website", "linknya": "link",
    "tautan": "link", "kadaluarsa": "kedaluwarsa",
    "kadaluwarsa": "kedaluwarsa", "expired": "kedaluwarsa",
    # an account's activation, whatever the portal or the applicant calls it
    "aktifasi": "aktivasi", "verif": "aktivasi", "verifikasi": "aktivasi",
    "konfirmasi": "aktivasi",
    "cpns": "pns", "sarjana": "kuliah", "s1": "kuliah",
    "mts": "smp", "smk": "sma", "ma": "sma",
    # English chat spellings
    "u": "you", "ur": "your", "pls": "please", "plz": "please", "reg": "daftar",
    "req": "requirements", "docs": "documents", "wanna": "want", "cant": "can not",
}
# fmt: on

PHRASES: dict[tuple[str, ...], str] = {
    ("kartu", "tanda", "penduduk"): "ktp",
}
"""Runs of words (after `SPELLINGS`) written as the one word people type for them."""

FILLER = frozenset(
    _words(
        """
        min mimin admin kak ka kakak gan sis bang bos mas mbak mba pak bu lur dulur cak halo hallo
        helo hai hi hello assalamualaikum asslm ass salam permisi selamat pagi siang sore malam mau
        tanya nanya numpang info infonya mohon maaf tolong please thanks thank terima kasih makasih
        mksh trims tq thx ya yah iya yaa dong deh sih si nih tuh kok lah loh lho pun kah nya yang
        dan atau di ke pada dari ini itu tersebut saya anda kami kita aku juga the a an to of i me
        my is are am do does be it this that for in on at and or
        """
    )
)
"""Words that carry no topic: greetings, vocatives (min, kak), particles, pronouns."""

ASKING = frozenset(
    _words(
        """
        apa apakah kapan bagaimana berapa dimana siapa kenapa mengapa manakah bisakah bolehkah
        haruskah perlukah adakah what when how where who why which whom
        """
    )
)
"""Words that make a sentence a question wherever they stand."""

ASKING_FIRST = frozenset(
    _words(
        """
        bisa boleh harus perlu wajib ada apa gimana can could do does did is are am may must should
        will would have has need
        """
    )
)
"""Words that make a sentence a question when it starts with them (after a vocative)."""

ASKING_LAST = frozenset({"tidak", "bukan", "belum", "kah", "kan", "ya"})
"""Tags that make a sentence with a modal (bisa, boleh, harus …) a question: "bisa daftar ga"."""

MODALS = frozenset({"bisa", "boleh", "harus", "perlu", "wajib", "masih", "sudah", "ada"})

ADDRESSING = frozenset({"min", "mimin", "admin", "kak", "ka", "kakak", "gan", "sis", "bang"})
"""Vocatives people use to address the bot: what follows them is said to it."""

NEGATIONS = frozenset({"tidak", "belum", "bukan"})
"""A negation with more words after it reports a problem: "blm ada email aktivasi"."""

TROUBLE = frozenset(
    _words(
        """
        gagal error eror ditolak tolak lupa bingung masalah kendala terkendala kok salah typo
        failed fail error rejected forgot wrong problem
        """
    )
)
"""Words that report a problem, which the bot treats as a question."""
