"""The four roles of the portal."""

ROLE_APPLICANT = "applicant"
ROLE_COUNTY = "county"
ROLE_ADMIN = "admin"
ROLE_EXPERT = "expert"
ROLE_LABELS = {
    ROLE_APPLICANT: "申报单位（集群促进组织）",
    ROLE_COUNTY: "县级以上人民政府审核人",
    ROLE_ADMIN: "省级管理员",
    ROLE_EXPERT: "评审专家",
}
