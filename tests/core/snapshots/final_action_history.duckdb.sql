WITH "t2" AS (
  SELECT DISTINCT
    "t0"."claim_id",
    "t0"."original_claim_id"
  FROM "claims" AS "t0"
), "t4" AS (
  SELECT
    "t3"."claim_id" AS "link_id",
    NULLIF("t3"."original_claim_id", "t3"."claim_id") AS "parent"
  FROM "t2" AS "t3"
)
SELECT
  "t32"."claim_id",
  "t32"."claim_line_number",
  "t32"."claim_type",
  "t32"."member_id",
  "t32"."payer",
  "t32"."line_of_business",
  "t32"."claim_from_date",
  "t32"."claim_thru_date",
  "t32"."service_date",
  "t32"."service_end_date",
  "t32"."admission_date",
  "t32"."discharge_date",
  "t32"."rendering_npi",
  "t32"."rendering_specialty",
  "t32"."billing_npi",
  "t32"."billing_tin",
  "t32"."attending_npi",
  "t32"."operating_npi",
  "t32"."facility_ccn",
  "t32"."place_of_service",
  "t32"."bill_type",
  "t32"."admit_source",
  "t32"."discharge_status",
  "t32"."revenue_code",
  "t32"."hcpcs_code",
  "t32"."hcpcs_modifier_1",
  "t32"."hcpcs_modifier_2",
  "t32"."hcpcs_modifier_3",
  "t32"."hcpcs_modifier_4",
  "t32"."ms_drg",
  "t32"."admitting_dx",
  "t32"."dx_1",
  "t32"."dx_2",
  "t32"."dx_3",
  "t32"."dx_4",
  "t32"."dx_5",
  "t32"."dx_6",
  "t32"."dx_7",
  "t32"."dx_8",
  "t32"."dx_9",
  "t32"."dx_10",
  "t32"."dx_11",
  "t32"."dx_12",
  "t32"."dx_13",
  "t32"."dx_14",
  "t32"."dx_15",
  "t32"."dx_16",
  "t32"."dx_17",
  "t32"."dx_18",
  "t32"."dx_19",
  "t32"."dx_20",
  "t32"."dx_21",
  "t32"."dx_22",
  "t32"."dx_23",
  "t32"."dx_24",
  "t32"."dx_25",
  "t32"."px_1",
  "t32"."px_2",
  "t32"."px_3",
  "t32"."px_4",
  "t32"."px_5",
  "t32"."px_6",
  "t32"."px_7",
  "t32"."px_8",
  "t32"."px_9",
  "t32"."px_10",
  "t32"."px_11",
  "t32"."px_12",
  "t32"."px_13",
  "t32"."px_14",
  "t32"."px_15",
  "t32"."px_16",
  "t32"."px_17",
  "t32"."px_18",
  "t32"."px_19",
  "t32"."px_20",
  "t32"."px_21",
  "t32"."px_22",
  "t32"."px_23",
  "t32"."px_24",
  "t32"."px_25",
  "t32"."units",
  "t32"."charge_amount",
  "t32"."allowed_amount",
  "t32"."paid_amount",
  "t32"."adjustment_type",
  "t32"."original_claim_id",
  "t32"."claim_version",
  "t32"."processed_date",
  "t32"."claim_family_id",
  (
    "t32"."final_claim_id" IS NOT NULL
  )
  AND NOT (
    COALESCE("t32"."final_is_void", FALSE)
  ) AS "is_final_action",
  "t32"."source_format",
  "t32"."source_file",
  "t32"."source_line"
FROM (
  SELECT
    "t27"."claim_id",
    "t27"."claim_line_number",
    "t27"."claim_type",
    "t27"."member_id",
    "t27"."payer",
    "t27"."line_of_business",
    "t27"."claim_from_date",
    "t27"."claim_thru_date",
    "t27"."service_date",
    "t27"."service_end_date",
    "t27"."admission_date",
    "t27"."discharge_date",
    "t27"."rendering_npi",
    "t27"."rendering_specialty",
    "t27"."billing_npi",
    "t27"."billing_tin",
    "t27"."attending_npi",
    "t27"."operating_npi",
    "t27"."facility_ccn",
    "t27"."place_of_service",
    "t27"."bill_type",
    "t27"."admit_source",
    "t27"."discharge_status",
    "t27"."revenue_code",
    "t27"."hcpcs_code",
    "t27"."hcpcs_modifier_1",
    "t27"."hcpcs_modifier_2",
    "t27"."hcpcs_modifier_3",
    "t27"."hcpcs_modifier_4",
    "t27"."ms_drg",
    "t27"."admitting_dx",
    "t27"."dx_1",
    "t27"."dx_2",
    "t27"."dx_3",
    "t27"."dx_4",
    "t27"."dx_5",
    "t27"."dx_6",
    "t27"."dx_7",
    "t27"."dx_8",
    "t27"."dx_9",
    "t27"."dx_10",
    "t27"."dx_11",
    "t27"."dx_12",
    "t27"."dx_13",
    "t27"."dx_14",
    "t27"."dx_15",
    "t27"."dx_16",
    "t27"."dx_17",
    "t27"."dx_18",
    "t27"."dx_19",
    "t27"."dx_20",
    "t27"."dx_21",
    "t27"."dx_22",
    "t27"."dx_23",
    "t27"."dx_24",
    "t27"."dx_25",
    "t27"."px_1",
    "t27"."px_2",
    "t27"."px_3",
    "t27"."px_4",
    "t27"."px_5",
    "t27"."px_6",
    "t27"."px_7",
    "t27"."px_8",
    "t27"."px_9",
    "t27"."px_10",
    "t27"."px_11",
    "t27"."px_12",
    "t27"."px_13",
    "t27"."px_14",
    "t27"."px_15",
    "t27"."px_16",
    "t27"."px_17",
    "t27"."px_18",
    "t27"."px_19",
    "t27"."px_20",
    "t27"."px_21",
    "t27"."px_22",
    "t27"."px_23",
    "t27"."px_24",
    "t27"."px_25",
    "t27"."units",
    "t27"."charge_amount",
    "t27"."allowed_amount",
    "t27"."paid_amount",
    "t27"."adjustment_type",
    "t27"."original_claim_id",
    "t27"."claim_version",
    "t27"."processed_date",
    "t27"."source_format",
    "t27"."source_file",
    "t27"."source_line",
    "t27"."claim_family_id",
    "t31"."final_claim_id",
    "t31"."final_is_void",
    "t31"."family_of_final"
  FROM (
    SELECT
      "t25".*
      EXCLUDE ("claim_id_right")
    FROM (
      SELECT
        "t1"."claim_id",
        "t1"."claim_line_number",
        "t1"."claim_type",
        "t1"."member_id",
        "t1"."payer",
        "t1"."line_of_business",
        "t1"."claim_from_date",
        "t1"."claim_thru_date",
        "t1"."service_date",
        "t1"."service_end_date",
        "t1"."admission_date",
        "t1"."discharge_date",
        "t1"."rendering_npi",
        "t1"."rendering_specialty",
        "t1"."billing_npi",
        "t1"."billing_tin",
        "t1"."attending_npi",
        "t1"."operating_npi",
        "t1"."facility_ccn",
        "t1"."place_of_service",
        "t1"."bill_type",
        "t1"."admit_source",
        "t1"."discharge_status",
        "t1"."revenue_code",
        "t1"."hcpcs_code",
        "t1"."hcpcs_modifier_1",
        "t1"."hcpcs_modifier_2",
        "t1"."hcpcs_modifier_3",
        "t1"."hcpcs_modifier_4",
        "t1"."ms_drg",
        "t1"."admitting_dx",
        "t1"."dx_1",
        "t1"."dx_2",
        "t1"."dx_3",
        "t1"."dx_4",
        "t1"."dx_5",
        "t1"."dx_6",
        "t1"."dx_7",
        "t1"."dx_8",
        "t1"."dx_9",
        "t1"."dx_10",
        "t1"."dx_11",
        "t1"."dx_12",
        "t1"."dx_13",
        "t1"."dx_14",
        "t1"."dx_15",
        "t1"."dx_16",
        "t1"."dx_17",
        "t1"."dx_18",
        "t1"."dx_19",
        "t1"."dx_20",
        "t1"."dx_21",
        "t1"."dx_22",
        "t1"."dx_23",
        "t1"."dx_24",
        "t1"."dx_25",
        "t1"."px_1",
        "t1"."px_2",
        "t1"."px_3",
        "t1"."px_4",
        "t1"."px_5",
        "t1"."px_6",
        "t1"."px_7",
        "t1"."px_8",
        "t1"."px_9",
        "t1"."px_10",
        "t1"."px_11",
        "t1"."px_12",
        "t1"."px_13",
        "t1"."px_14",
        "t1"."px_15",
        "t1"."px_16",
        "t1"."px_17",
        "t1"."px_18",
        "t1"."px_19",
        "t1"."px_20",
        "t1"."px_21",
        "t1"."px_22",
        "t1"."px_23",
        "t1"."px_24",
        "t1"."px_25",
        "t1"."units",
        "t1"."charge_amount",
        "t1"."allowed_amount",
        "t1"."paid_amount",
        "t1"."adjustment_type",
        "t1"."original_claim_id",
        "t1"."claim_version",
        "t1"."processed_date",
        "t1"."source_format",
        "t1"."source_file",
        "t1"."source_line",
        "t24"."claim_id" AS "claim_id_right",
        "t24"."claim_family_id"
      FROM "claims" AS "t1"
      LEFT OUTER JOIN (
        SELECT
          "t22"."claim_id",
          MIN("t22"."family") AS "claim_family_id"
        FROM (
          SELECT
            "t21"."claim_id",
            COALESCE("t7"."parent", "t21"."family") AS "family"
          FROM (
            SELECT
              "t18"."claim_id",
              COALESCE("t8"."parent", "t18"."family") AS "family"
            FROM (
              SELECT
                "t15"."claim_id",
                COALESCE("t9"."parent", "t15"."family") AS "family"
              FROM (
                SELECT
                  "t12"."claim_id",
                  COALESCE("t10"."parent", "t12"."family") AS "family"
                FROM (
                  SELECT
                    "t3"."claim_id",
                    COALESCE(NULLIF("t3"."original_claim_id", "t3"."claim_id"), "t3"."claim_id") AS "family"
                  FROM "t2" AS "t3"
                ) AS "t12"
                LEFT OUTER JOIN "t4" AS "t10"
                  ON "t12"."family" = "t10"."link_id"
              ) AS "t15"
              LEFT OUTER JOIN "t4" AS "t9"
                ON "t15"."family" = "t9"."link_id"
            ) AS "t18"
            LEFT OUTER JOIN "t4" AS "t8"
              ON "t18"."family" = "t8"."link_id"
          ) AS "t21"
          LEFT OUTER JOIN "t4" AS "t7"
            ON "t21"."family" = "t7"."link_id"
        ) AS "t22"
        GROUP BY
          1
      ) AS "t24"
        ON "t1"."claim_id" = "t24"."claim_id"
    ) AS "t25"
  ) AS "t27"
  LEFT OUTER JOIN (
    SELECT
      "t29"."claim_id" AS "final_claim_id",
      "t29"."is_void" AS "final_is_void",
      "t29"."claim_family_id" AS "family_of_final"
    FROM (
      SELECT
        "t28"."claim_family_id",
        "t28"."claim_id",
        "t28"."processed",
        "t28"."version",
        "t28"."adjusts",
        "t28"."is_void",
        "t28"."last_file",
        "t28"."last_line",
        ROW_NUMBER() OVER (
          PARTITION BY "t28"."claim_family_id"
          ORDER BY "t28"."processed" DESC, "t28"."version" DESC, "t28"."adjusts" DESC, "t28"."last_file" DESC, "t28"."last_line" DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) - 1 AS "rank"
      FROM (
        SELECT
          "t26"."claim_family_id",
          "t26"."claim_id",
          MAX("t26"."processed_date") AS "processed",
          MAX("t26"."claim_version") AS "version",
          CAST(BOOL_OR(CAST("t26"."adjustment_type" IN ('adjustment', 'void') AS BOOLEAN)) AS TINYINT) AS "adjusts",
          BOOL_OR(CAST("t26"."adjustment_type" = 'void' AS BOOLEAN)) AS "is_void",
          MAX("t26"."source_file") AS "last_file",
          MAX("t26"."source_line") AS "last_line"
        FROM (
          SELECT
            "t25".*
            EXCLUDE ("claim_id_right")
          FROM (
            SELECT
              "t1"."claim_id",
              "t1"."claim_line_number",
              "t1"."claim_type",
              "t1"."member_id",
              "t1"."payer",
              "t1"."line_of_business",
              "t1"."claim_from_date",
              "t1"."claim_thru_date",
              "t1"."service_date",
              "t1"."service_end_date",
              "t1"."admission_date",
              "t1"."discharge_date",
              "t1"."rendering_npi",
              "t1"."rendering_specialty",
              "t1"."billing_npi",
              "t1"."billing_tin",
              "t1"."attending_npi",
              "t1"."operating_npi",
              "t1"."facility_ccn",
              "t1"."place_of_service",
              "t1"."bill_type",
              "t1"."admit_source",
              "t1"."discharge_status",
              "t1"."revenue_code",
              "t1"."hcpcs_code",
              "t1"."hcpcs_modifier_1",
              "t1"."hcpcs_modifier_2",
              "t1"."hcpcs_modifier_3",
              "t1"."hcpcs_modifier_4",
              "t1"."ms_drg",
              "t1"."admitting_dx",
              "t1"."dx_1",
              "t1"."dx_2",
              "t1"."dx_3",
              "t1"."dx_4",
              "t1"."dx_5",
              "t1"."dx_6",
              "t1"."dx_7",
              "t1"."dx_8",
              "t1"."dx_9",
              "t1"."dx_10",
              "t1"."dx_11",
              "t1"."dx_12",
              "t1"."dx_13",
              "t1"."dx_14",
              "t1"."dx_15",
              "t1"."dx_16",
              "t1"."dx_17",
              "t1"."dx_18",
              "t1"."dx_19",
              "t1"."dx_20",
              "t1"."dx_21",
              "t1"."dx_22",
              "t1"."dx_23",
              "t1"."dx_24",
              "t1"."dx_25",
              "t1"."px_1",
              "t1"."px_2",
              "t1"."px_3",
              "t1"."px_4",
              "t1"."px_5",
              "t1"."px_6",
              "t1"."px_7",
              "t1"."px_8",
              "t1"."px_9",
              "t1"."px_10",
              "t1"."px_11",
              "t1"."px_12",
              "t1"."px_13",
              "t1"."px_14",
              "t1"."px_15",
              "t1"."px_16",
              "t1"."px_17",
              "t1"."px_18",
              "t1"."px_19",
              "t1"."px_20",
              "t1"."px_21",
              "t1"."px_22",
              "t1"."px_23",
              "t1"."px_24",
              "t1"."px_25",
              "t1"."units",
              "t1"."charge_amount",
              "t1"."allowed_amount",
              "t1"."paid_amount",
              "t1"."adjustment_type",
              "t1"."original_claim_id",
              "t1"."claim_version",
              "t1"."processed_date",
              "t1"."source_format",
              "t1"."source_file",
              "t1"."source_line",
              "t24"."claim_id" AS "claim_id_right",
              "t24"."claim_family_id"
            FROM "claims" AS "t1"
            LEFT OUTER JOIN (
              SELECT
                "t22"."claim_id",
                MIN("t22"."family") AS "claim_family_id"
              FROM (
                SELECT
                  "t21"."claim_id",
                  COALESCE("t7"."parent", "t21"."family") AS "family"
                FROM (
                  SELECT
                    "t18"."claim_id",
                    COALESCE("t8"."parent", "t18"."family") AS "family"
                  FROM (
                    SELECT
                      "t15"."claim_id",
                      COALESCE("t9"."parent", "t15"."family") AS "family"
                    FROM (
                      SELECT
                        "t12"."claim_id",
                        COALESCE("t10"."parent", "t12"."family") AS "family"
                      FROM (
                        SELECT
                          "t3"."claim_id",
                          COALESCE(NULLIF("t3"."original_claim_id", "t3"."claim_id"), "t3"."claim_id") AS "family"
                        FROM "t2" AS "t3"
                      ) AS "t12"
                      LEFT OUTER JOIN "t4" AS "t10"
                        ON "t12"."family" = "t10"."link_id"
                    ) AS "t15"
                    LEFT OUTER JOIN "t4" AS "t9"
                      ON "t15"."family" = "t9"."link_id"
                  ) AS "t18"
                  LEFT OUTER JOIN "t4" AS "t8"
                    ON "t18"."family" = "t8"."link_id"
                ) AS "t21"
                LEFT OUTER JOIN "t4" AS "t7"
                  ON "t21"."family" = "t7"."link_id"
              ) AS "t22"
              GROUP BY
                1
            ) AS "t24"
              ON "t1"."claim_id" = "t24"."claim_id"
          ) AS "t25"
        ) AS "t26"
        GROUP BY
          1,
          2
      ) AS "t28"
    ) AS "t29"
    WHERE
      "t29"."rank" = 0
  ) AS "t31"
    ON "t27"."claim_id" = "t31"."final_claim_id"
) AS "t32"
