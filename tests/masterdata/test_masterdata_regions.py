import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.identity.service import Actor
from app.masterdata.models import Region, RegionLevel
from app.masterdata.regions import load_regions


def test_every_database_has_chinas_regions(app):
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Region)) > 3000
    beijing = db.session.get(Region, "110000000000")
    assert (beijing.name, beijing.level, beijing.parent_code) == ("北京市", RegionLevel.PROVINCE, None)
    dongcheng = db.session.get(Region, "110101000000")
    assert dongcheng.level is RegionLevel.DISTRICT and dongcheng.parent_code == "110100000000"
    assert db.session.get(Region, "110100000000").parent_code == "110000000000"
    assert round(db.session.get(Region, "330106000000").longitude, 3) == 120.130


def test_every_region_but_a_province_has_an_existing_parent(app):
    parent = sa.orm.aliased(Region)
    orphans = db.session.scalars(
        sa.select(Region.code).outerjoin(parent, parent.code == Region.parent_code)
        .where(Region.level != RegionLevel.PROVINCE, parent.code.is_(None))).all()
    assert orphans == []


def test_loading_the_regions_again_changes_nothing_and_repairs_drift(app):
    with transaction():
        assert load_regions(actor=Actor.system("tests"))["unchanged"] > 3000
    with transaction():
        db.session.get(Region, "110101000000").name = "drifted"
        db.session.delete(db.session.get(Region, "110102000000"))
    with transaction():
        counts = load_regions(actor=Actor.system("tests"))
    assert (counts["created"], counts["updated"]) == (1, 1)
    assert db.session.get(Region, "110101000000").name == "东城区"
    assert db.session.get(Region, "110102000000").name == "西城区"


def test_flask_regions_load_is_safe_to_run_again(app):
    result = app.test_cli_runner().invoke(args=["regions", "load"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 created, 0 updated")
