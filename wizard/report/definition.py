"""The report, defined once: 附件1 (preliminary) and 附件2 (final) of the official
notice, with their exact wording.  Every label, unit, note and guidance text of
the report lives in this file and nowhere else.

Year placeholders ({y1} {y2} the two data years, {t1} {t2} {t3} the target
years) are filled from the competition edition.
"""
from functools import lru_cache

from .model import BOTH, PRELIMINARY_ONLY, Column, Field, Report, Section, Step, Variant, resolve

TITLES = {
    "preliminary": "湖南省产业集群竞赛参赛报告（初赛）",
    "final": "湖南省产业集群竞赛参赛报告（决赛）",
}

PARTS = {
    "preliminary": {
        "basic": "一、集群基本信息",
        "overall": "二、集群发展总体情况",
        "park": "三、集群核心承载园区情况",
        "org": "四、集群发展促进组织情况",
        "plan": "五、培育发展产业集群实施方案",
        "declaration": "六、真实性声明",
        "evidence": "七、佐证材料",
    },
    "final": {
        "basic": "一、集群基本信息",
        "overall": "二、集群发展总体情况",
        "park": "三、集群核心承载园区情况",
        "org": "四、集群发展促进组织运营情况",
        "declaration": "五、真实性声明",
        "evidence": "六、佐证材料",
    },
}

YEARS_HEADER = "近2年情况"
INDICATOR_HEADER = "指标名称"
GROWTH_HEADER = "增幅（%）"
PARK_GROWTH_HEADER = "总额增幅（%）"
PARK_TOTAL = "园区总额"
PARK_CLUSTER = "其中：集群产业"
TARGET_BASE = "上一年实际值"
TARGET_YEAR = "{year}年发展目标"
YEAR = "{year}年"
LEVELS = ("国家级", "省级")
SEAL = "（盖章）"
UNIT_SEAL = "（单位盖章）"
DATE_BLANK = "年    月    日"
EVIDENCE_REF = "见佐证材料第 {pages} 页"
EVIDENCE_STAMP = "佐证材料第 {n} 页"
CODE_LABEL = "校验码"  # the verification code in every page footer, looked up by administrators
EVIDENCE_TOC_HEADERS = ("序号", "佐证材料", "对应指标或内容", "所在页码")
EVIDENCE_NONE = "未附佐证材料。"
# Only on paper: the attachment marker printed at the top left of the first page, as the official
# notice's attachments carry it; the watermark of a report that is still a draft; the metadata's
# author of a blank template; the other half of a diagonal corner header (集群研发投入前十位企业:
# 近2年情况 over the years, 企业名称 down the rows), by field and column.
ATTACHMENTS = {"preliminary": "附件1", "final": "附件2"}
DRAFT_WATERMARK = "草稿"
BLANK_AUTHOR = "湖南省产业集群竞赛"
CORNER_HEADERS = {("rd_top10", "name"): YEARS_HEADER}
COUNTY_SCAN = "county_opinion_scan"
COUNTY_SCAN_LABEL = "县级以上人民政府审核意见盖章扫描件"


def _i(key, label, **kw):
    return Field(key, label, "indicator", **kw)


def _p(key, label):
    return Field(key, label, "park_indicator")


def _t(key, label, **kw):
    return Field(key, label, "target", **kw)


def _list(key, first_label="名称", date_before_approver=False, blank_rows=3, max_rows=50):
    """The recurring '名称 / 级别 / 批准单位 / 批准时间' list of recognitions."""
    name = Column("name", first_label, required=True)
    level = Column("level", "级别", kind="level", required=True)
    approver = Column("approver", "批准单位", required=True)
    approved_at = Column("approved_at", "批准时间", required=True, max_length=40)
    cols = (name, level, approved_at, approver) if date_before_approver else (name, level, approver, approved_at)
    return dict(kind="table", columns=cols, blank_rows=blank_rows, max_rows=max_rows, required=False)


GUIDE_OVERALL = (
    "从产业基础、规模工业培育、创新能力、要素集聚、绿色发展、数字化、集群公共服务、开放合作、"
    "组织保障等方面简要介绍集群{since}总体情况。\n"
    "产业基础主要包括集群主导产业规模实力、产品市场竞争力、品牌建设等情况；创新能力主要包括研发投入强度、"
    "发明专利、行业标准建设、从业人员（高技术人才及专家团队）情况；\n"
    "要素集聚包括产业链上下游协作、人才、金融等集群发展的各类要素集聚情况；\n"
    "绿色发展主要包括绿色产品、绿色工厂、绿色园区、绿色供应链等情况；\n"
    "集群公共服务主要包括集群促进组织建设及运行情况，各类中介机构建设情况；\n"
    "开放合作主要包括集群国际化合作、区域合作、品牌打造、吸引外资、进出口额等情况；\n"
    "组织保障主要包括集群领导及工作推进机制，相关规划、政策的制定落实等情况。\n"
    "2500字以内。"
)
GUIDE_PARK = (
    "承载园区基本情况，重点阐述{since}为推进产业集群发展在项目建设、规模工业企业培育、招商引资、要素保障、"
    "营商环境改善、企业服务、体制机制创新等方面所开展的工作和取得的成效，以及下一步推进集群发展的工作思路。"
    "2500字以内。"
)
DECLARATION_TEXT = (
    "本单位承诺此次参加省级产业集群竞赛所填报的信息真实、合法。承诺：\n"
    "1、集群主导产业不属于国家规定的禁止、限制和淘汰类产业；\n"
    "2、近三年未发生重大安全生产、产品质量安全、环境污染事故；\n"
    "3、集群企业不存在偷税漏税、违法违规、严重失信和其他重大问题的行为。\n"
    "如有不实之处，本单位愿意负相应法律责任，并承担由此产生的一切后果。"
)
PLAN_INTRO = (
    "《实施方案》由集群所在地地方政府牵头，根据产业集群发展实际进行编制，具有科学性、前瞻性和可操作性，"
    "提出目标、任务和政策措施可衡量、可考核，提出的重点项目要聚焦“锻长板”和“补短板”，对集群发展具有较强促进作用，"
    "采用的数据真实可靠。本提纲仅作为参考，编制主体可根据实际情况做相应调整。\n"
    "参考提纲如下。"
)

STEPS = (
    Step("basic", "基本信息", (
        Section("basic", "basic", None, layout="form", fields=(
            Field("cluster_name", "集群名称", "text", default_from="cluster_name"),
            Field("industry_field", "产业领域", "text"),
            Field("category", "申报类别", "derived", required=False,
                  note="（先进制造业集群或中小企业特色产业集群）"),
            Field("leading_industry", "集群主导产业", "text"),
            Field("region_scope", "集群地域范围", "text"),
            Field("org_unit", "单位名称", "text", group="集群促进组织"),
            Field("org_head", "负责人姓名、职务", "text", group="集群促进组织"),
            Field("org_head_phone", "电话", "phone", group="集群促进组织"),
            Field("org_contact", "联系人姓名、职务", "text", group="集群促进组织"),
            Field("org_contact_phone", "电话", "phone", group="集群促进组织"),
            Field("park_unit", "单位名称", "text", group="集群核心承载园区"),
            Field("park_head", "负责人姓名、职务", "text", group="集群核心承载园区"),
            Field("park_head_phone", "电话", "phone", group="集群核心承载园区"),
            Field("park_contact", "联系人姓名、职务", "text", group="集群核心承载园区"),
            Field("park_contact_phone", "电话", "phone", group="集群核心承载园区"),
            Field("county_opinion", "集群所在地县以上人民政府意见：", "opinion", required=False),
        )),
    )),
    Step("indicators", "经济指标", (
        Section("economy", "overall", "集群主要经济指标", number="2.1", layout="indicators", fields=(
            _i("output_total", "集群总产值（亿元）"),
            _i("sme_share", "集群内中小企业产值占集群总产值的比重（%，仅中小企业特色产业集群填报）"),
            _i("leading_output", "集群主导产业产值（亿元）"),
            _i("leading_provincial_share", "集群主导产业产值占全省该产业的比重（%）"),
            _i("market_share", "主导产品国内市场占有率（%）"),
            _i("revenue", "集群企业营业收入（亿元）"),
            _i("above_scale_revenue", "集群规上工业企业营业收入（亿元）"),
            _i("profit", "利润总额（亿元）", signed=True),
            _i("tax", "税金总额（亿元）"),
            _i("imports", "进口额（亿元）"),
            _i("exports", "出口额（亿元）"),
            _i("foreign_capital", "利用外资规模（亿元）"),
            _i("project_investment", "集群项目投资总额（亿元）"),
            _i("employees", "集群从业人员数量（人）"),
        )),
        Section("enterprises", "overall", "集群企业培育情况", number="2.2", layout="indicators", fields=(
            _i("enterprises", "企业数量（个）"),
            _i("above_scale_enterprises", "规上工业企业数量（个）"),
            _i("high_tech_enterprises", "高新技术企业数量（个）"),
            _i("listed_enterprises", "上市和挂牌企业数量（个，需提供佐证材料，并标注所在页码，下同）"),
            _i("national_champions", "国家级单项冠军数量（个，需提供佐证材料）"),
            _i("provincial_champions", "省级单项冠军数量（个，需提供佐证材料）"),
            _i("little_giants", "国家级专精特新“小巨人”企业数量（个，需提供佐证材料）"),
            _i("provincial_specialized", "省级专精特新企业数量（个，需提供佐证材料）"),
            _i("integration_certified", "获得两化融合管理体系贯标证书企业数量（个，需提供佐证材料）"),
            _i("cloud_ratio", "企业上云比例（%）"),
            _i("iip_penetration", "集群企业工业互联网平台普及率（%）"),
        )),
        Section("top10", "overall", "营业收入排名前十企业发展情况", layout="table", fields=(
            Field("top10", "营业收入排名前十企业发展情况", "table", required=False, max_rows=10, blank_rows=10,
                  columns=(
                      Column("name", "企业名称", required=True),
                      Column("product", "主要产品", required=True),
                      Column("revenue_y1", YEAR.format(year="{y1}"), kind="number", group="营业收入（亿元）", unit="亿元", required=True),
                      Column("revenue_y2", YEAR.format(year="{y2}"), kind="number", group="营业收入（亿元）", unit="亿元", required=True),
                      Column("market_share", "国内市场占有率（%）", kind="number", unit="%", percent=True),
                  )),
        )),
        Section("projects", "overall", "集群重点项目建设情况", number="2.3", layout="table",
                note="含研发、技术改造、公共服务平台等在建及新建项目等（10个左右）。", fields=(
            Field("projects", "集群重点项目建设情况", "table", required=False, max_rows=20, blank_rows=10,
                  columns=(
                      Column("builder", "建设单位名称", required=True),
                      Column("project", "项目名称", required=True),
                      Column("investment", "总投资（万元）", kind="number", unit="万元", required=True),
                      Column("period", "建设期", required=True, max_length=60),
                  )),
        )),
    )),
    Step("innovation", "创新", (
        Section("innovation", "overall", "集群创新情况", number="2.4", layout="indicators", fields=(
            _i("rd_funds", "集群研发经费（亿元）"),
            _i("rd_intensity", "集群主导产业规上企业R&D经费支出占集群主导产业营业收入比重（%）"),
            _i("rd_growth", "集群研发经费增速（%）", signed=True),
            _i("rd_staff_ratio", "集群研发人员占集群从业人员的比例（%）"),
            _i("invention_patents", "发明专利数量（个）"),
            _i("standards", "参与制定国际、国家、行业、团体标准（个，需提供佐证材料）"),
            _i("patents_per_10k", "集群从业人员每万人发明专利拥有量（个）", decimal_count=True),
            _i("national_sci_awards", "获得国家科技进步奖数量（个，需提供佐证材料）"),
            _i("provincial_sci_awards", "获得省级科技进步奖数量（个，需提供佐证材料）"),
            _i("national_carriers", "国家级技术创新载体数量（个，需提供佐证材料）"),
            _i("provincial_carriers", "省级技术创新载体数量（个，需提供佐证材料）"),
            _i("national_design_centers", "国家级工业设计中心数量（个，需提供佐证材料）"),
            _i("provincial_design_centers", "省级工业设计中心数量（个，需提供佐证材料）"),
        )),
        Section("carriers", "overall", "集群技术创新载体（国家级、省级）", layout="table",
                note="省级以上技术创新载体主要包括省级以上制造业创新中心、技术创新中心、产业创新中心、重点实验室、"
                     "工程研究中心、工业设计中心、企业技术中心等。", fields=(
            Field("carriers", "集群技术创新载体（国家级、省级）",
                  **_list("carriers", "技术创新载体名称", date_before_approver=True, blank_rows=10)),
        )),
        Section("rd_top10", "overall", "集群研发投入前十位企业", layout="table", fields=(
            Field("rd_top10", "集群研发投入前十位企业", "table", required=False, max_rows=10, blank_rows=10,
                  columns=(
                      Column("name", "企业名称", required=True),
                      Column("rd_y1", YEAR.format(year="{y1}"), kind="number", group="研发投入（万元）", unit="万元", required=True),
                      Column("rd_y2", YEAR.format(year="{y2}"), kind="number", group="研发投入（万元）", unit="万元", required=True),
                      Column("remark", "备注"),
                  )),
        )),
    )),
    Step("green", "绿色", (
        Section("green", "overall", "集群绿色发展情况", number="2.5", layout="indicators", growth=False, fields=(
            _i("green_certified", "省级及以上绿色工厂、绿色产品、绿色园区、绿色供应链数量（个，需提供佐证材料）"),
            _i("co2_intensity", "集群单位产值二氧化碳排放量（吨/万元）"),
            _i("solid_waste_use", "大宗工业固废综合利用率（%）"),
            _i("water_reuse", "工业用水重复利用率（%）"),
        )),
        Section("green_list", "overall", "省级及以上绿色工厂、绿色产品、绿色园区、绿色供应链（国家级、省级）",
                layout="table", fields=(
            Field("green_list", "省级及以上绿色工厂、绿色产品、绿色园区、绿色供应链（国家级、省级）", **_list("green_list")),
        )),
    )),
    Step("quality", "质量与服务", (
        Section("quality", "overall", "集群产品质量发展情况", number="2.6", layout="indicators", growth=False, fields=(
            _i("three_systems", "获得质量、环境、职业健康安全三体系贯标认证企业数量（个，需提供佐证材料）"),
            _i("certificate_coverage", "落实产品合格证管理制度，产品合格证覆盖率（%）"),
        )),
        Section("demo_list", "overall", "省级及以上产品质量安全示范工厂、示范园区、示范集群（国家级、省级）",
                layout="table", fields=(
            Field("demo_list", "省级及以上产品质量安全示范工厂、示范园区、示范集群（国家级、省级）", **_list("demo_list")),
        )),
        Section("quality_awards", "overall", "省级及以上质量奖（国家级、省级）", layout="table", fields=(
            Field("quality_awards", "省级及以上质量奖（国家级、省级）", **_list("quality_awards", "企业")),
        )),
        Section("services", "overall", "集群公共服务情况", number="2.7", layout="indicators", growth=False, fields=(
            _i("platforms", "省级及以上公共服务平台数量（个，需提供佐证材料）"),
        )),
        Section("platform_list", "overall", "省级及以上公共服务平台（国家级、省级）", layout="table",
                note="省级以上公共服务平台主要包括为集群提供研发设计、试验分析、检验检测、质量认证、创业孵化、"
                     "管理咨询、人力资源及政策法律服务等共性需求的公共服务机构。", fields=(
            Field("platform_list", "省级及以上公共服务平台（国家级、省级）", **_list("platform_list")),
        )),
        Section("self_assessment", "overall", "集群发展总体情况自评报告", number="2.8", layout="narrative", fields=(
            Field("self_assessment", "集群发展总体情况自评报告", "longtext", max_chars=2500,
                  guidance=GUIDE_OVERALL.format(since="")),
        )),
    )),
    Step("park", "承载园区", (
        Section("park_info", "park", "园区主要经济指标", number="3.1", layout="park", fields=(
            Field("park_name", "园区名称", "text", default_from="park_unit"),
            Field("park_industry", "园区主导产业", "text"),
            _p("park_gdp", "园区生产总值（亿元）"),
            _p("park_above_scale", "园区规上工业企业数（个）"),
            _p("park_above_scale_revenue", "园区规上工业企业营业收入（亿元）"),
            _p("park_tax", "上交税金总额（亿元）"),
            _p("park_imports", "进口总额（亿元）"),
            _p("park_exports", "出口总额（亿元）"),
            _p("park_fixed_investment", "固定资产投资（亿元）"),
            _p("park_investment_attracted", "园区招商引资总额（亿元）"),
            _p("park_foreign_capital", "园区实际使用外资（亿元）"),
            _i("park_area", "园区开发面积（亩）"),
            _i("investment_intensity", "投资强度（万元/亩）"),
            _i("tax_per_mu", "亩均税收（万元/亩）"),
        )),
        Section("park_assessment", "park", "集群核心承载园区推进集群发展自评报告", number="3.2", layout="narrative", fields=(
            Field("park_assessment", "集群核心承载园区推进集群发展自评报告", "longtext", max_chars=2500,
                  guidance=GUIDE_PARK.format(since="")),
        )),
    )),
    Step("org", "促进组织", (
        Section("org_name", "org", None, layout="form", fields=(
            Field("promo_org_name", "集群促进组织名称", "text", default_from="org_unit"),
        )),
        Section("org_basic", "org", "基本情况", number="4.1", layout="narrative", rounds=PRELIMINARY_ONLY, fields=(
            Field("org_basic", "基本情况", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="重点介绍集群促进组织组建方式及组织架构、主要负责人简历和工作业绩及其他专业技术人员情况等。"),
        )),
        Section("org_operation", "org", "集群发展促进组织运营情况", number="4.2", layout="narrative", fields=(
            Field("org_operation", "集群发展促进组织运营情况", "longtext", max_chars=1000,
                  guidance="重点介绍集群促进组织在推进集群发展方面已开展的工作等，1000字以内。"),
        )),
        Section("org_documents", "org", "相关佐证资料", number="4.3", layout="evidence", rounds=PRELIMINARY_ONLY, fields=(
            Field("org_documents", "相关佐证资料", "evidence", rounds=PRELIMINARY_ONLY,
                  guidance="包括机构成立批文或注册登记执照复印件、固定的办公场所证明、机构负责人相关资历证书等佐证材料。"),
        )),
    )),
    Step("plan", "实施方案", (
        Section("plan_lead", "plan", None, layout="form", rounds=PRELIMINARY_ONLY, fields=(
            Field("lead_unit", "编制牵头单位", "text", rounds=PRELIMINARY_ONLY, note="（集群所在地县以上人民政府）"),
        )),
        Section("targets", "plan", "未来三年集群主要经济指标发展目标", number="5.1", layout="targets", rounds=PRELIMINARY_ONLY, fields=(
            _t("target_output", "集群总产值（亿元）", rounds=PRELIMINARY_ONLY),
            _t("target_leading_revenue", "集群主导产业营业收入（亿元）", rounds=PRELIMINARY_ONLY),
            _t("target_leading_enterprises", "集群主导产业规模工业企业数（个）", rounds=PRELIMINARY_ONLY),
            _t("target_leading_profit", "集群主导产业利润（亿元）", rounds=PRELIMINARY_ONLY, signed=True),
            _t("target_leading_tax", "集群主导产业上交税金（亿元）", rounds=PRELIMINARY_ONLY),
        )),
        Section("plan", "plan", "培育发展省级产业集群实施方案", number="5.2", layout="plan", rounds=PRELIMINARY_ONLY,
                note=PLAN_INTRO, fields=(
            Field("plan_background", "第一部分：培育背景", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="明确实施范围，分析背景和意义。"),
            Field("plan_foundation", "第二部分：基础条件", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="分析集群的基础条件、优势和特色，对标对表国际、国内先进水平找出集群发展的差距。"),
            Field("plan_goals", "第三部分：发展思路和目标", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="根据制造业强省建设“十四五”发展规划，结合本地区实际提出发展的思路、培育原则、发展定位和主要目标。"),
            Field("plan_paths", "第四部分：培育发展路径", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="重点阐明推动集群产业发展、加快技术创新、促进要素集聚、深化开放合作、推动重点项目建设的主要任务和做法"
                           "（列出重点项目清单及实施时间表）。"),
            Field("plan_safeguards", "第五部分：保障措施", "longtext", rounds=PRELIMINARY_ONLY,
                  guidance="提出培育发展集群的工作机制和保证措施，年度计划，任务分工及进度安排。"),
        )),
    )),
    Step("declaration", "真实性声明", (
        Section("declaration", "declaration", "集群符合参赛条件的真实性声明", number="6.1", layout="declaration",
                note=DECLARATION_TEXT, fields=(
            Field("declaration_agree", "本单位已阅读并同意以上真实性声明", "agree"),
            Field("org_leader_name", "集群促进组织负责人", "text", print_label="集群促进组织负责人签字："),
            Field("park_leader_name", "集群核心承载园区负责人", "text", print_label="集群核心承载园区负责人签字："),
            Field("declaration_scan", "签字盖章的真实性声明页扫描件", "evidence", web_only=True,
                  guidance="请将本报告的真实性声明页打印，由两位负责人签字并加盖单位公章后扫描上传，提交前必须上传。"),
        )),
    )),
    Step("evidence", "佐证材料", (
        Section("evidence", "evidence", None, layout="appendix", fields=(
            Field("other_evidence", "其他佐证材料", "evidence", required=False, web_only=True,
                  guidance="以上各项指标之外需要提交的其他佐证材料（可选）。"),
        )),
    )),
)

# What 附件2 (final round) words differently.
FINAL_VARIANTS = {
    "listed_enterprises": Variant(label="上市和挂牌企业数量（个，需提供佐证材料）"),
    "patents_per_10k": Variant(label="集群从业人员每万人发明专利拥有量（个，需提供佐证材料）"),
    "self_assessment": Variant(guidance=GUIDE_OVERALL.format(since="在初赛胜出后的")),
    "park_assessment": Variant(guidance=GUIDE_PARK.format(since="从集群初赛胜出后")),
    "org_operation": Variant(
        title="", number="", max_chars=1500,
        guidance="重点介绍集群初赛胜出后集群发展促进组织为推动集群发展所做的工作，取得的成效。（1500字以内）",
    ),
}

@lru_cache(maxsize=None)
def get_report(round_: str = "preliminary") -> Report:
    """The report of one round: its steps, sections and fields, with that round's wording."""
    if round_ not in TITLES:
        raise ValueError(f"unknown round {round_!r}")
    steps = []
    for step in STEPS:
        sections = []
        for section in step.sections:
            if round_ not in section.rounds:
                continue
            fields = tuple(resolve(f, round_, FINAL_VARIANTS) for f in section.fields if round_ in f.rounds)
            section = resolve(section, round_, FINAL_VARIANTS)
            sections.append(section.__class__(**{**section.__dict__, "fields": fields}))
        if sections:
            steps.append(Step(step.key, step.title, tuple(sections)))
    return Report(round_, TITLES[round_], PARTS[round_], tuple(steps))


__all__ = ["get_report", "BOTH", "PRELIMINARY_ONLY"]
