"""Lead names as other devices write them: each maps to one lead of the standard 12, or to none."""

from __future__ import annotations

from ecgdesk.records.lead_names import lead_keys, standard_lead_name, standard_lead_names


def test_aecg_codes_dicom_meanings_and_paired_chest_names_are_known() -> None:
    """An EDF or CSV exported from an HL7 aECG or DICOM file keeps the codes (``MDC_ECG_LEAD_AVR``) or code
    meanings (``Lead I (Einthoven)``); chest leads are written ``V1-C1`` by IEC-labelled carts. None of these
    was known: such a file had no axis and no low-voltage or Sokolow-Lyon statement, without a word."""
    mdc = [f"MDC_ECG_LEAD_{n}" for n in ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5",
                                         "V6")]
    assert standard_lead_names(mdc) == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5",
                                        "V6"]
    assert standard_lead_name("Lead I (Einthoven)") == "I"
    assert standard_lead_name("Lead aVF (Goldberger)") == "aVF"
    assert standard_lead_name("Lead V3 (Wilson)") == "V3"
    # cut to an EDF label's 16 characters
    assert [standard_lead_name(n) for n in ("Lead I (Einthove", "Lead aVR (Goldbe", "Lead III (Eintho")] == [
        "I", "aVR", "III"]
    assert standard_lead_name("Lead II (Holter)") is None
    assert [standard_lead_name(f"V{k}-C{k}") for k in range(1, 7)] == [f"V{k}" for k in range(1, 7)]
    assert standard_lead_name("C2/V2") == "V2"
    # A pair naming two different leads, a 15-lead file's extra leads and a bare channel stay unknown.
    assert [standard_lead_name(n) for n in ("V1-C2", "V4R", "V7", "MDC_ECG_LEAD_V4R", "C1", "2")] == [
        None] * 6


def test_a_lead_named_twice_is_looked_up_by_neither_name() -> None:
    """``II`` and ``ECG II`` in one file: which is lead II is not ours to guess, so neither is looked up as
    II; the other leads keep their standard names (all of them fell back to the file's spelling, so a file
    writing ``ECG I`` ... ``ECG V6`` and a second ``ECG V5`` had no axis)."""
    names = ["ECG I", "ECG II", "ECG III", "ECG V5", "V5"]
    assert standard_lead_names(names) == ["I", "II", "III", "ECG V5", "V5"]
    assert lead_keys(names) == ["i", "ii", "iii", "ecg v5#4", "v5#5"]
