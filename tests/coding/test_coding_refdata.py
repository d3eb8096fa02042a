"""Importers for the CMS layouts, the release store, and release-in-force selection by date."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest
from coding_builders import BASELINE, claim, cms_folder, cms_refdata, line_data

from ecgdesk.coding.facts import Setting
from ecgdesk.coding.importers import ImportOptions, import_files, parse_mue, parse_ptp, parse_rvu
from ecgdesk.coding.refdata import RefData, RefStore
from ecgdesk.coding.scrub import scrub
from ecgdesk.coding.tables import OPEN_END, PtpTable, TableKind, baseline_ptp, day_int, shipped_manifest
from ecgdesk.errors import InputError

# A hand-written file in the layout of the CMS quarterly PTP text files (ccipra-vNNNr0-f1.txt).
PTP_TAB = (
    "CPT codes, descriptions and other data only are copyright of the AMA.\n"
    "Column 1/Column 2 Edits\n"
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
    "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
    "93000\t93040\t*\t19960101\t*\t1\tMore extensive procedure\n"
    "93224\t93225\t\t20110101\t*\t0\tHCPCS/CPT procedure code definition\n"
    "93000\t99211\t\t20100101\t20191231\t1\tMisuse of column two code with column one code\n"
    "93000\t99211\t\t20100101\t*\t1\tMisuse of column two code with column one code\n"
    "93000\t99212\t\t20100101\t20191231\t1\tMisuse of column two code with column one code\n"
)
MUE_CSV = (
    '"Practitioner Services MUE Table - Effective 07/01/2024"\n'
    '"CPT codes and descriptions only are copyright American Medical Association."\n'
    '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"\n'
    '"93000","3","3 Date of Service Edit: Clinical","Clinical: Data"\n'
    '"93224","1","2 Date of Service Edit: Policy","Code Descriptor / CPT Instruction"\n'
    '"99999","2","1 Line Edit","Nature of Equipment"\n'
)
RVU_CSV = (
    "PPRRVU24 July release,,,,,,,,,,,,,,,\n"
    ",,,STATUS,NOT USED FOR MEDICARE,WORK,NON-FAC,NON-FAC,FACILITY,FACILITY,MP,NON-FACILITY,FACILITY,PCTC,"
    "GLOB,CONV\n"
    "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU,PE RVU,NA INDICATOR,PE RVU,NA INDICATOR,RVU,TOTAL,TOTAL,IND,"
    "DAYS,FACTOR\n"
    "93050,,Our own short label,A,,0.17,0.29,,0.29,NA,0.02,0.48,0.48,1,XXX,33.2875\n"
    "93050,26,Our own short label,A,,0.17,0.06,NA,0.06,,0.01,0.24,0.24,1,XXX,33.2875\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cms_tab_ptp_file_is_parsed_and_deduplicated(tmp_path: Path) -> None:
    path = _write(tmp_path, "ccipra-v302r0-f1.txt", PTP_TAB)
    rows = parse_ptp(path)
    assert len(rows) == 5 and {r.setting for r in rows} == {Setting.PRACTITIONER}
    table = import_files(TableKind.PTP, [path], ImportOptions(effective=date(2024, 7, 1)))
    assert isinstance(table, PtpTable) and len(table) == 4  # the 93000/99211 duplicate keeps the open row
    edit = table.edit(Setting.PRACTITIONER, "93000", "99211", day_int(date(2024, 8, 1)))
    assert edit is not None and edit.indicator == 1
    assert table.edit(Setting.PRACTITIONER, "93000", "99212", day_int(date(2024, 8, 1))) is None
    assert table.edit(Setting.PRACTITIONER, "93000", "99212", day_int(date(2019, 12, 31))) is not None
    assert table.edit(Setting.PRACTITIONER, "93224", "93225", day_int(date(2010, 12, 31))) is None


def test_fixed_width_ptp_text_and_setting_from_name(tmp_path: Path) -> None:
    text = PTP_TAB.replace("\t", "    ")
    rows = parse_ptp(_write(tmp_path, "ccioph-v302r0-f2.txt", text))
    assert len(rows) == 5 and {r.setting for r in rows} == {Setting.HOSPITAL_OUTPATIENT}


def test_cms_zip_archive_is_read(tmp_path: Path) -> None:
    archive = tmp_path / "medicare-ncci-2024q3-practitioner-ptp-edits-ccipra-v302r0-f1.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ccipra-v302r0-f1.TXT", PTP_TAB)
        zipped.writestr("README.pdf", b"%PDF")
    table = import_files(TableKind.PTP, [archive])
    assert table.release.effective == date(2024, 7, 1) and len(table) == 4


def test_ptp_without_setting_or_date_names_the_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "edits.txt", PTP_TAB)
    before = path.read_bytes()
    with pytest.raises(InputError) as info:
        parse_ptp(path)
    assert info.value.field == "--setting" and "edits.txt" in str(info.value)
    with pytest.raises(InputError) as info:
        import_files(TableKind.PTP, [path], ImportOptions(setting=Setting.PRACTITIONER))
    assert info.value.field == "--effective"
    assert path.read_bytes() == before


def test_file_without_rows_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "ccipra-empty.txt", "nothing here\n")
    with pytest.raises(InputError) as info:
        parse_ptp(path)
    assert info.value.field == "rows"


def test_cms_mue_csv_layout(tmp_path: Path) -> None:
    path = _write(tmp_path, "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", MUE_CSV)
    rows = parse_mue(path)
    assert [(r.code, r.value, r.mai, r.setting) for r in rows] == [
        ("93000", 3, 3, Setting.PRACTITIONER),
        ("93224", 1, 2, Setting.PRACTITIONER),
        ("99999", 2, 1, Setting.PRACTITIONER),
    ]
    table = import_files(TableKind.MUE, [path])
    assert table.release.effective == date(2024, 7, 1)


def test_pprrvu_two_line_header_and_no_descriptor_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "PPRRVU24_JUL.csv", RVU_CSV)
    rows = parse_rvu(path)
    assert [(r.code, r.modifier, r.pctc, r.total_nonfacility, r.facility_na) for r in rows] == [
        ("93050", "", 1, 0.48, True),
        ("93050", "26", 1, 0.24, False),
    ]
    store = RefStore(tmp_path / "store")
    saved = store.save(import_files(TableKind.RVU, [path]))
    assert saved.effective == date(2024, 7, 1)
    stored = (tmp_path / "store" / "rvu" / saved.id / "table.npz").read_bytes()
    assert b"O\x00\x00\x00u\x00\x00\x00r\x00\x00\x00" not in stored  # "Our" as numpy unicode


# The real PPRRVU header: banner lines, then column names stacked over up to five lines, one word a line
# (written here from the layout, with our own labels).
RVU_STACKED = (
    ",,National Physician Fee Schedule Relative Value File July Release,,,,,,,,,,,,,,\r\n"
    ",,RELEASED 05/03/2024,,,,,,,,,,,,,,\r\n"
    ",,,,NOT USED,,,,,,,,,,,,\r\n"
    ",,,,FOR,,,NON-FAC,,FACILITY ,,,,,,,\r\n"
    ",,,STATUS,MEDICARE ,WORK,NON-FAC,NA,FACILITY,NA,MP,NON-FACILITY,FACILITY,PCTC,GLOB,CONV,\r\n"
    "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU,PE RVU,INDICATOR,PE RVU,INDICATOR,RVU,TOTAL,TOTAL,IND,DAYS,"
    "FACTOR,\r\n"
    "93050,,Our own short label,A,,0.17,0.29,,0.29,NA,0.02,0.48,0.48,1,XXX,33.2875,\r\n"
    "0001A,,Our own vaccine label,X,,0.00,0.00,,0.00,,0.00,0.00,0.00,9,XXX,33.2875,\r\n"
    "\x1a\r\n"
)


def test_pprrvu_header_stacked_over_several_lines_and_codes_ending_in_a(tmp_path: Path) -> None:
    # every real PPRRVU file was refused ("RVU columns not found: na"); 0001A rows were skipped silently
    rows = parse_rvu(_write(tmp_path, "PPRRVU24_JUL.csv", RVU_STACKED))
    assert [(r.code, r.status, r.work_rvu, r.total_nonfacility, r.facility_na, r.conversion_factor)
            for r in rows] == [("93050", "A", 0.17, 0.48, True, 33.2875),
                               ("0001A", "X", 0.0, 0.0, False, 33.2875)]


@pytest.mark.parametrize(("line", "imported"), [
    ("93000\t99213\t\t20100101\t\t1\tMisuse of column two code", True),  # blank deletion date: none
    ("93000\t99213\t\t20100101\t*\t2\tMisuse of column two code", False),  # modifier indicator 2
    ("93000\t99213\t\t2010-01-01\t*\t1\tMisuse of column two code", False),  # ISO date
])
def test_a_ptp_edit_line_is_read_or_refused_never_dropped(tmp_path: Path, line: str, imported: bool) -> None:
    path = _write(tmp_path, "ccipra-v302r0-f1.txt", PTP_TAB + line + "\n")
    if imported:
        rows = parse_ptp(path)
        assert len(rows) == 6 and rows[-1].column2 == "99213" and rows[-1].deletion == OPEN_END
    else:
        with pytest.raises(InputError) as caught:
            parse_ptp(path)
        assert caught.value.field == "line 9" and "modifier indicator 0, 1 or 9" in caught.value.reason


def test_mue_line_numbers_are_the_file_lines_and_dme_is_refused(tmp_path: Path) -> None:
    banner = '"Practitioner Services MUE Table - Effective 07/01/2024\nSecond banner line"\n\n'
    header = '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator"\n'
    bad = _write(tmp_path, "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
                 banner + header + '"93000","3","3 Date of Service Edit: Clinical"\n\n"93005","N/A","3 x"\n')
    with pytest.raises(InputError) as caught:
        parse_mue(bad)
    assert caught.value.field == "line 8: 93005"  # the blank line and the two-line cells counted
    dme = _write(tmp_path, "MCR_MUE_DMESupplierServices_Eff_07-01-2024.csv",
                 header.replace("Practitioner", "DME Supplier") + '"A4216","60","1 Line Edit"\n')
    with pytest.raises(InputError) as caught:  # was stored as practitioner limits with --setting
        parse_mue(dme, Setting.PRACTITIONER)
    assert "DME supplier" in caught.value.reason


def test_excel_and_utf16_files_are_named_as_such(tmp_path: Path) -> None:
    workbook = tmp_path / "ccipra-v302r0-f1.xlsx"
    with zipfile.ZipFile(workbook, "w") as zipped:
        zipped.writestr("[Content_Types].xml", "<Types/>")
        zipped.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(InputError) as caught:
        parse_ptp(workbook)
    assert "Excel workbook" in caught.value.reason
    unicode_text = tmp_path / "ccipra-v302r0-f1.txt"
    unicode_text.write_bytes(PTP_TAB.encode("utf-16"))
    assert len(parse_ptp(unicode_text)) == 5


def test_store_roundtrip_checksum_and_tamper(tmp_path: Path) -> None:
    store = RefStore(tmp_path)
    saved = store.save(
        import_files(
            TableKind.PTP,
            [_write(tmp_path, "ccipra-a.txt", PTP_TAB)],
            ImportOptions(release_id="q3", effective=date(2024, 7, 1)),
        )
    )
    table_file = tmp_path / "ptp" / "q3" / "table.npz"
    assert saved.checksum == hashlib.sha256(table_file.read_bytes()).hexdigest()
    assert [r.id for r in store.releases()] == ["q3"]
    loaded = store.load(saved)
    assert isinstance(loaded, PtpTable) and len(loaded) == 4
    payload = bytearray(table_file.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    table_file.write_bytes(bytes(payload))
    saved_again = store.releases()[0]
    with pytest.raises(InputError) as info:
        RefStore(tmp_path).load(saved_again)
    assert info.value.field in ("checksum", "table.npz")


def test_release_in_force_on_the_date_of_service(tmp_path: Path) -> None:
    store = RefStore(tmp_path)
    old = PTP_TAB.replace("93224\t93225\t\t20110101\t*\t0", "93224\t93225\t\t20110101\t*\t1")
    store.save(
        import_files(
            TableKind.PTP,
            [_write(tmp_path, "ccipra-old.txt", old)],
            ImportOptions(release_id="q1", effective=date(2024, 1, 1)),
        )
    )
    store.save(
        import_files(
            TableKind.PTP,
            [_write(tmp_path, "ccipra-new.txt", PTP_TAB)],
            ImportOptions(release_id="q3", effective=date(2024, 7, 1)),
        )
    )
    refdata = RefData(store)
    assert refdata.ptp(Setting.PRACTITIONER, date(2024, 3, 1)).release.id == "q1"
    assert refdata.ptp(Setting.PRACTITIONER, date(2024, 8, 1)).release.id == "q3"
    before = refdata.resolve(TableKind.PTP, Setting.PRACTITIONER, date(2023, 12, 31))
    assert before.fallback and before.table is baseline_ptp()
    hospital = refdata.resolve(TableKind.PTP, Setting.HOSPITAL_OUTPATIENT, date(2024, 8, 1))
    assert hospital.fallback  # the imported files were practitioner tables only


def test_bad_release_id_is_refused(tmp_path: Path) -> None:
    table = import_files(
        TableKind.PTP,
        [_write(tmp_path, "ccipra-x.txt", PTP_TAB)],
        ImportOptions(release_id="../escape", effective=date(2024, 7, 1)),
    )
    with pytest.raises(InputError) as info:
        RefStore(tmp_path / "store").save(table)
    assert info.value.field == "--release-id"


# -- the real CMS extracts in ../shared/data/cms ----------------------------------------------------


@pytest.mark.shared_data
def test_shared_ptp_import_keeps_the_rows_in_force() -> None:
    table = cms_refdata().ptp(Setting.PRACTITIONER, date(2024, 8, 1))
    with (cms_folder() / "ncci_ptp_ecg_2024q3.csv").open(newline="") as handle:
        raw = list(csv.DictReader(handle))
    keys = {(r["setting"], r["column1"], r["column2"]) for r in raw}
    assert len(table) == len(keys) < len(raw)  # duplicate keys were merged
    day = day_int(date(2024, 8, 1))
    for row in raw:
        if row["active_on_2024_07_01"] == "Y":
            setting = (
                Setting.PRACTITIONER if row["setting"] == "practitioner" else Setting.HOSPITAL_OUTPATIENT
            )
            edit = table.edit(setting, row["column1"], row["column2"], day)
            assert edit is not None and edit.indicator == int(row["modifier_indicator"]), row


@pytest.mark.shared_data
def test_baseline_agrees_with_the_within_family_cms_rows() -> None:
    with (cms_folder() / "ncci_ptp_ecg_within_family_2024q3.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    base = baseline_ptp()
    for row in rows:
        setting = Setting.PRACTITIONER if row["setting"] == "practitioner" else Setting.HOSPITAL_OUTPATIENT
        day = (
            date(2024, 8, 1)
            if row["active_on_2024_07_01"] == "Y"
            else date.fromisoformat(row["deletion_date"])
        )
        edit = base.edit(setting, row["column1"], row["column2"], day_int(day))
        if row["modifier_indicator"] == "9":
            continue
        assert edit is not None and edit.indicator == int(row["modifier_indicator"]), row


@pytest.mark.shared_data
def test_shipped_tables_are_the_shared_cms_extracts(tmp_path: Path) -> None:
    """The package data is what tools/build_cms_refdata.py makes from ../shared/data/cms, byte for byte."""
    import importlib.util

    script = Path(__file__).parents[2] / "tools" / "build_cms_refdata.py"
    spec = importlib.util.spec_from_file_location("build_cms_refdata", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = module.build(cms_folder(), tmp_path)
    assert manifest == shipped_manifest()
    for kind in ("ptp", "mue", "rvu"):
        shipped = files("ecgdesk.coding.data").joinpath(f"cms/{kind}.npz").read_bytes()
        assert (tmp_path / f"{kind}.npz").read_bytes() == shipped
    mue = cms_refdata().mue(Setting.PRACTITIONER, date(2024, 8, 1))
    baseline_mue = BASELINE.mue(Setting.PRACTITIONER, date(2024, 8, 1))
    assert sorted(mue.rows()) == sorted(baseline_mue.rows())
    assert baseline_mue.limit(Setting.PRACTITIONER, "93278") is not None


def test_a_fresh_install_catches_cross_family_edits() -> None:
    """No imported release: the shipped CMS tables still know critical care with a rhythm strip, ILR
    insertion with an ECG and the nurse visit bundled into the ECG."""
    for pair, bundled in (
        (("99291", "93040"), "93040"),
        (("33285", "93000"), "93000"),
        (("93000", "99211"), "99211"),
    ):
        found = [
            f for f in scrub(claim(*(line_data(c) for c in pair)), refdata=BASELINE) if f.rule == "ptp_edit"
        ]
        assert [(f.code, f.carc) for f in found] == [(bundled, "97")], pair
    assert len(baseline_ptp()) > 90_000 and baseline_ptp().release.builtin


@pytest.mark.shared_data
def test_scrub_against_the_full_cms_tables() -> None:
    refdata = cms_refdata()
    # ILR insertion bundles a same-day ECG: only the full table knows this pair.
    loop = claim(line_data("33285"), line_data("93000"))
    full = [f for f in scrub(loop, refdata=refdata) if f.rule == "ptp_edit"]
    assert [(f.code, f.carc) for f in full] == [("93000", "97")]
    assert [(f.code, f.carc) for f in scrub(loop, refdata=BASELINE) if f.rule == "ptp_edit"] == [
        ("93000", "97")
    ]
    # An office visit with an ECG has no edit; the nurse-only visit is bundled into the ECG.
    assert not [
        f
        for f in scrub(claim(line_data("99213"), line_data("93000")), refdata=refdata)
        if f.rule in ("ptp_edit", "refdata_fallback")
    ]
    nurse = [
        f
        for f in scrub(claim(line_data("93000"), line_data("99211")), refdata=refdata)
        if f.rule == "ptp_edit"
    ]
    assert [(f.code, f.carc) for f in nurse] == [("99211", "97")]
    # Before the imported release takes effect the baseline is used, and the scrubber says so.
    early = scrub(claim(line_data("93000", "2024-03-01")), refdata=refdata)
    assert any(f.rule == "refdata_fallback" for f in early)


def test_default_store_is_reread_after_an_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECGDESK_REFDATA_DIR", str(tmp_path / "store"))
    nurse_visit = claim(line_data("93000"), line_data("99212"))
    assert not [f for f in scrub(nurse_visit) if f.rule == "ptp_edit"]
    RefStore().save(
        import_files(
            TableKind.PTP,
            [_write(tmp_path, "ccipra-v1.txt", PTP_TAB)],
            ImportOptions(effective=date(2010, 1, 1)),
        )
    )
    findings = scrub(claim(line_data("93000", "2015-05-01"), line_data("99212", "2015-05-01")))
    assert [f.code for f in findings if f.rule == "ptp_edit"] == ["99212"]
