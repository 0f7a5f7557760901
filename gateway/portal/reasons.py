"""The AR 5125 engine's reasons a family member can meet in the portal, in the reader's
language.

The engine is pure and speaks English. The portal shows each reason below in the
reader's language; any other is shown as the engine gave it. Each is word for word a
reason the engine gives a parent or student (tests/unit/policy/test_family_reasons.py
asks the engine), marked here so that the catalogue extracts and translates it.
"""

from __future__ import annotations

from flask_babel import gettext


def _(text: str) -> str:  # marks a message for the catalogue; translated when shown
    return text


FAMILY_REASONS = frozenset({
    # A parent's access (Ed Code 49069; 34 CFR 99.4, 99.5)
    _("A court order revokes this parent's rights to the student's records."),
    _("The rights to these records have passed to the student (18 or older, or attending "
      "a postsecondary institution), who is not the parent's tax dependent."),
    _("The student attends a postsecondary institution and alone holds the rights; the "
      "parent of a tax dependent has access only once the student is 18."),
    _("The decision needs the student's birth date, which was not given; access is "
      "refused until it is known."),
    # A student's own access (Ed Code 49064, 49076)
    _("The decision needs the grade the student has completed, which was not given; access "
      "is refused until it is known."),
    _("The student is under 16 and has not completed the 10th grade; the parents exercise "
      "the rights to the records."),
    # Reading the access log (Ed Code 49064)
    _("A court order revokes this parent's rights."),
    _("The rights have passed to the adult student."),
    _("A student under 16 who has not completed the 10th grade may not read the access "
      "log."),
    # Challenges and written responses (Ed Code 49070)
    _("The rights have passed to the adult student, who alone may challenge the record."),
    _("Only a parent with legal custody may challenge a record or file a written "
      "response."),
    _("Only the parent with legal custody may challenge the record of this student."),
    # Written consents (Ed Code 49061, 49075; 34 CFR 99.30): what is wrong with one
    _("the consent is not signed"),
    _("the consent is not dated"),
    _("who holds the rights cannot be told without the student's birth date"),
    _("the consent does not say who gave it"),
    _("a parent with legal custody, not the student, consents for this student"),
    _("the rights have passed to the student, who alone may consent"),
    _("only a parent with legal custody may consent, unless both parents told the district "
      "in writing that they agree"),
    _("the consent does not cover the record requested"),
    _("the consent does not state its purpose and recipient"),
})


def in_readers_language(reason: str) -> str:
    """The engine's reason, translated if it is one a family member can meet."""
    return gettext(reason) if reason in FAMILY_REASONS else reason
