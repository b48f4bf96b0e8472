"""Skills and certificates are master data, checked when an engineer is saved or imported."""

import pytest

from servflow.dispatch import service
from servflow.masterdata import service as md
from servflow.platform.errors import Invalid


def save(session, **kw):
    values = {
        "scope_path": None,
        "code": "bj_new",
        "name": "新人",
        "outlet": "bj-001",
        "skills": ["refrigeration"],
    }
    return service.save_engineer(session, **{**values, **kw})


def test_an_engineer_with_a_skill_outside_the_catalogue_is_refused_naming_the_field(world, session):
    with pytest.raises(Invalid) as caught:
        save(session, skills=["telepathy"])
    assert "skills" in caught.value.extra["errors"]


def test_a_certificate_above_the_skills_levels_is_refused_naming_the_line(world, session):
    service.save_skill(session, code="gas", name_zh="燃气", name_en="Gas", levels=3)
    with pytest.raises(Invalid) as caught:
        save(session, certificates=[{"skill": "gas", "level": 4}])
    assert caught.value.extra["errors"] == {"certificates[0].level": "level must be 1 to 3"}
    engineer = save(session, certificates=[{"skill": "燃气", "level": 3, "expires": "2027-06-30"}])
    assert engineer.certificates == [{"skill": "gas", "level": 3, "expires": "2027-06-30"}]


def test_a_csv_import_carries_certificates_checked_against_the_catalogue(world, session):
    csv = (
        "code,name,outlet,skills,certificates\n"
        "bj_csv,导入,bj-001,制冷,refrigeration:2:2027-01-31;gas:1:\n"
    ).encode()
    result = md.import_csv(session, "engineers", md.read_csv(csv), scope_path=None)
    assert result.imported == 1, result.errors
    engineer = service.find_engineer(session, code="bj_csv", scope_path=None)
    assert engineer is not None
    assert engineer.skills == ["refrigeration"]
    assert engineer.certificates == [
        {"skill": "refrigeration", "level": 2, "expires": "2027-01-31"},
        {"skill": "gas", "level": 1, "expires": None},
    ]
    bad = b"code,name,outlet,certificates\nbj_bad,x,bj-001,unknown:1:\n"
    refused = md.import_csv(session, "engineers", md.read_csv(bad), scope_path=None)
    assert refused.imported == 0
    assert refused.errors[0]["field"] == "certificates[0].skill"
